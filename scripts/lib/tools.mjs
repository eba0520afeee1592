// Runtimes the CI parts need beyond the machine's Node: Node 22/24, Bun and Deno, each
// from the npm package that ships its binary, installed once into a cache outside the
// repository (STURDY_CI_CACHE, default ~/.cache/sturdy-ci) and reused.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { run } from './proc.mjs'

export const CACHE =
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: read by CI scripts, not turbo tasks
  process.env.STURDY_CI_CACHE ??
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: read by CI scripts, not turbo tasks
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sturdy-ci')
export const NPM_CACHE = join(CACHE, 'npm')

/** Flags for every `npm install` the CI scripts run. */
export const NPM_FLAGS = [
  '--no-audit',
  '--no-fund',
  '--prefer-offline',
  '--no-package-lock',
  '--cache',
  NPM_CACHE,
  '--loglevel=error',
]

/**
 * @typedef {{ bin: string, version: string } | { skip: string }} Tool
 */

/**
 * The Node binary of one major version: the machine's own when it has that major
 * (Node 20 must be >= 20.19, the packages' floor), else `node-linux-<arch>@<major>`.
 *
 * @param {number} major
 * @returns {Promise<Tool>}
 */
export async function nodeBinary(major) {
  const [sysMajor, sysMinor] = process.versions.node.split('.').map(Number)
  if (sysMajor === major && (major !== 20 || sysMinor >= 19)) {
    return { bin: process.execPath, version: process.version }
  }
  const pkg = `node-${process.platform}-${process.arch}`
  const got = await ensurePackage(`node-${major}`, `${pkg}@${major}`, (dir) =>
    join(dir, 'node_modules', pkg, 'bin', 'node'),
  )
  if ('skip' in got) return got
  if (
    !got.version.startsWith(`v${major}.`) ||
    (major === 20 && Number(got.version.split('.')[1]) < 19)
  ) {
    return { skip: `the registry's ${pkg}@${major} is ${got.version}, below the packages' floor` }
  }
  return got
}

/** @returns {Promise<Tool>} */
export function bunBinary() {
  return ensurePackage('bun', 'bun@latest', (dir) => {
    const oven = join(dir, 'node_modules', '@oven')
    if (existsSync(oven)) {
      for (const d of readdirSync(oven)) {
        const bin = join(oven, d, 'bin', 'bun')
        if (existsSync(bin)) return bin
      }
    }
    return join(dir, 'node_modules', 'bun', 'bin', 'bun.exe')
  })
}

/** @returns {Promise<Tool>} */
export function denoBinary() {
  return ensurePackage('deno', 'deno@latest', (dir) => {
    const scope = join(dir, 'node_modules', '@deno')
    if (existsSync(scope)) {
      for (const d of readdirSync(scope)) {
        const bin = join(scope, d, 'deno')
        if (existsSync(bin)) return bin
      }
    }
    return join(dir, 'node_modules', '@deno', 'missing', 'deno')
  })
}

/**
 * Installs `spec` into CACHE/runtimes/<name> unless a working binary is already there.
 * A directory lock keeps two CI parts from installing the same tool at once.
 */
async function ensurePackage(name, spec, binOf) {
  const dir = join(CACHE, 'runtimes', name)
  const release = await lock(`${dir}.lock`)
  try {
    const cached = await probe(binOf(dir))
    if (cached !== undefined) return cached
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const r = await run('npm', ['install', '--prefix', dir, spec, ...NPM_FLAGS], {
      timeoutMs: 10 * 60_000,
    })
    const bin = binOf(dir)
    const got = r.code === 0 ? await probe(bin) : undefined
    if (got === undefined) {
      return {
        skip: `could not install ${spec} (npm exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
      }
    }
    return got
  } finally {
    release()
  }
}

async function probe(bin) {
  if (!existsSync(bin)) return undefined
  const r = await run(bin, ['--version'], { timeoutMs: 30_000 })
  if (r.code !== 0) return undefined
  const version = r.stdout.trim().split('\n')[0]
  return { bin, version }
}

async function lock(path) {
  mkdirSync(join(path, '..'), { recursive: true })
  const deadline = Date.now() + 15 * 60_000
  for (;;) {
    try {
      mkdirSync(path)
      return () => rmSync(path, { recursive: true, force: true })
    } catch {
      // Someone else holds it; a lock older than 15 minutes is left over from a killed run.
      try {
        if (Date.now() - statSync(path).mtimeMs > 15 * 60_000) rmSync(path, { recursive: true })
      } catch {}
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}
