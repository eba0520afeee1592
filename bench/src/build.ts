import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

/** The bench package folder. */
export const BENCH_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = resolve(BENCH_DIR, '..')
/**
 * Where the bundled servers and workers go (git-ignored). `BENCH_BUILD_DIR` points a run
 * at another build, e.g. a copy kept from before a change (with `BENCH_SKIP_BUILD=1`).
 */
export const BUILD_DIR: string = resolve(BENCH_DIR, process.env.BENCH_BUILD_DIR ?? '.build')

/**
 * The Sturdy packages a contender may use. Each is included in the `sturdy:packages`
 * virtual module when its `src/index.ts` exists and builds; otherwise the reason is
 * recorded and the contenders that need it report `null`.
 */
export const STURDY_PACKAGES = [
  'core',
  'hono',
  'timeout',
  'retry',
  'breaker',
  'metrics',
  'tracing',
  'logger',
  'express',
  'fastify',
  'node',
  'client',
  'rate-limit',
  'chaos',
  'lifecycle',
  'limit',
] as const

/** Which Sturdy packages could be bundled, and why the others could not. */
export interface Availability {
  readonly present: readonly string[]
  readonly missing: Readonly<Record<string, string>>
}

/**
 * Bundles every server and worker entry into `.build/<name>.mjs`.
 *
 * Why bundle: the workspace packages export TypeScript sources, and the contenders must
 * run as plain JavaScript on both runtimes (as published code would, and without a
 * loader such as tsx on the hot path). Sturdy sources are bundled in; every other bare
 * import stays external and resolves from bench/node_modules, so Sturdy and the anchors
 * share one prom-client, one pino and one @opentelemetry/api.
 */
export async function buildEntries(): Promise<Availability> {
  const availability = await probeSturdy()
  if (process.env.BENCH_SKIP_BUILD === '1') return availability
  mkdirSync(BUILD_DIR, { recursive: true })
  const entryPoints: Record<string, string> = {}
  for (const dir of ['servers', 'workers']) {
    const full = join(BENCH_DIR, 'src', dir)
    for (const file of readdirSync(full)) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue
      entryPoints[file.slice(0, -3)] = join(full, file)
    }
  }
  await esbuild.build({
    entryPoints,
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: false,
    logLevel: 'error',
    // Some CommonJS dependencies (bundled through Sturdy packages) call require().
    banner: {
      js: "import { createRequire as __bench_cr } from 'node:module'; const require = __bench_cr(import.meta.url);",
    },
    plugins: [sturdyPlugin(availability)],
  })
  return availability
}

function sturdyPlugin(availability: Availability): esbuild.Plugin {
  return {
    name: 'sturdy-packages',
    setup(build) {
      build.onResolve({ filter: /^sturdy:packages$/ }, () => ({
        path: 'sturdy:packages',
        namespace: 'sturdy-packages',
      }))
      build.onLoad({ filter: /.*/, namespace: 'sturdy-packages' }, () => ({
        contents: virtualModule(availability),
        resolveDir: BENCH_DIR,
        loader: 'js',
      }))
      build.onResolve({ filter: /^@sturdy\/[^/]+/ }, (args) => {
        const [, name, sub] = /^@sturdy\/([^/]+)(?:\/(.*))?$/.exec(args.path) ?? []
        const file = join(ROOT, 'packages', name as string, 'src', `${sub ?? 'index'}.ts`)
        return existsSync(file) ? { path: file } : undefined
      })
      // Everything else that is bare stays external when bench can resolve it itself.
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || args.path.startsWith('sturdy:')) {
          return args.path.startsWith('node:') ? { path: args.path, external: true } : undefined
        }
        const pkg = args.path.startsWith('@')
          ? args.path.split('/').slice(0, 2).join('/')
          : (args.path.split('/')[0] as string)
        if (existsSync(join(BENCH_DIR, 'node_modules', pkg))) {
          return { path: args.path, external: true }
        }
        return undefined
      })
    },
  }
}

function virtualModule(availability: Availability): string {
  const lines: string[] = []
  const entries: string[] = []
  for (const name of availability.present) {
    const id = `p_${name.replace(/\W/g, '_')}`
    lines.push(`import * as ${id} from '@sturdy/${name}'`)
    entries.push(`${JSON.stringify(name)}: ${id}`)
  }
  lines.push(`export const packages = { ${entries.join(', ')} }`)
  lines.push(`export const missing = ${JSON.stringify(availability.missing)}`)
  return lines.join('\n')
}

/** Finds which Sturdy packages exist and build on their own. */
export async function probeSturdy(): Promise<Availability> {
  const present: string[] = []
  const missing: Record<string, string> = {}
  for (const name of STURDY_PACKAGES) {
    const index = join(ROOT, 'packages', name, 'src', 'index.ts')
    if (!existsSync(index) || statSync(index).size === 0) {
      missing[name] = existsSync(join(ROOT, 'packages', name))
        ? `@sturdy/${name} has no src/index.ts yet`
        : `@sturdy/${name} does not exist yet`
      continue
    }
    try {
      await esbuild.build({
        entryPoints: [index],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'esm',
        logLevel: 'silent',
        packages: 'external',
      })
      present.push(name)
    } catch (error) {
      const first = (error as { errors?: { text: string }[] }).errors?.[0]?.text ?? String(error)
      missing[name] = `@sturdy/${name} does not build yet: ${first}`
    }
  }
  return { present, missing }
}
