/**
 * @module
 * The Dockerfile's steps without Docker: parse it, copy the build context as
 * `.dockerignore` filters it, run each stage's RUN lines in a directory standing for that
 * stage's filesystem (absolute paths mapped into it, cache mounts onto a local cache),
 * and assemble the final stage's files. What cannot run here (the base image's own
 * Node.js, the global pnpm install) is named by the caller and checked another way.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, posix, relative } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** One instruction, continuation lines joined. */
export interface Instruction {
  keyword: string
  args: string
  line: number
}

/** A stage: `FROM image AS name` and what follows. */
export interface Stage {
  name: string
  from: string
  instructions: Instruction[]
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  /** `ARG`s before the first `FROM`, with their defaults. */
  globalArgs: Record<string, string>
  stages: Stage[]
}

/** Parses a Dockerfile (no heredocs, no parser directives beyond `# syntax`). */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {}
  const stages: Stage[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    while (line.endsWith('\\')) {
      line = line.slice(0, -1).trimEnd()
      i++
      const next = lines[i]?.trim() ?? ''
      if (!next.startsWith('#')) line += ` ${next}`
    }
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line)
    if (m === null) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`)
    const keyword = m[1]!.toUpperCase()
    const args = m[2]!
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      if (from === null) throw new Error(`Dockerfile line ${start + 1}: bad FROM`)
      stages.push({ from: from[1]!, name: from[2] ?? String(stages.length), instructions: [] })
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`)
      const [name, value = ''] = args.split('=', 2) as [string, string?]
      globalArgs[name] = value
    } else {
      stages.at(-1)!.instructions.push({ keyword, args, line: start + 1 })
    }
  }
  return { globalArgs, stages }
}

/**
 * `.dockerignore` as Docker reads it: patterns relative to the context root, `*` and `?`
 * within a path segment, `**` across segments, a later `!pattern` re-including; a pattern
 * that matches a directory excludes everything below it.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!')
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''))
      return { negate, regex: globToRegex(pattern) }
    })
  return (path) => {
    const parts = path.split('/')
    let excluded = false
    for (const rule of rules) {
      // The path itself or any directory above it.
      for (let n = 1; n <= parts.length; n++) {
        if (rule.regex.test(parts.slice(0, n).join('/'))) {
          excluded = !rule.negate
          break
        }
      }
    }
    return excluded
  }
}

function globToRegex(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more directories; a trailing `**` anything.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?'
        i += 2
      } else {
        re += '.*'
        i += 1
      }
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** What the local run of a Dockerfile needs. */
export interface LocalBuildOptions {
  /** The build context (the repository root). */
  context: string
  dockerfile: string
  /** A scratch directory: each stage's filesystem goes below it. */
  work: string
  /** Cache mounts by id (`--mount=type=cache,id=...`): a local directory to use instead. */
  caches: Record<string, string>
  /** Environment every RUN also gets (PATH, HOME, ...). */
  env: Record<string, string>
  /** Returns why a RUN line is not run here, or undefined to run it. */
  skip(command: string): string | undefined
  /** Called before each step, for the test's log. */
  onStep?(stage: string, instruction: Instruction): void
}

/** The final stage, assembled on disk. */
export interface LocalImage {
  /** The directory standing for the final stage's `/`. */
  root: string
  workdir: string
  env: Record<string, string>
  user: string | undefined
  cmd: string[]
  healthcheck: { options: Record<string, string>; cmd: string[] } | undefined
  expose: number[]
  stopSignal: string | undefined
  /** RUN lines not run, with the reason. */
  skipped: Array<{ command: string; reason: string }>
}

/** Runs the Dockerfile's stages in `work` (see the module doc) and returns the last one. */
export async function buildLocally(options: LocalBuildOptions): Promise<LocalImage> {
  const file = parseDockerfile(readFileSync(options.dockerfile, 'utf8'))
  const ignored = dockerignore(readFileSync(join(options.context, '.dockerignore'), 'utf8'))
  const roots = new Map<string, string>()
  const skipped: LocalImage['skipped'] = []
  let image: LocalImage | undefined

  for (const stage of file.stages) {
    const root = join(options.work, `stage-${stage.name}`)
    mkdirSync(root, { recursive: true })
    roots.set(stage.name, root)
    const args: Record<string, string> = { ...file.globalArgs }
    const env: Record<string, string> = {}
    const cacheMounts = new Map<string, string>()
    let workdir = '/'
    const state: LocalImage = {
      root,
      workdir,
      env,
      user: undefined,
      cmd: [],
      healthcheck: undefined,
      expose: [],
      stopSignal: undefined,
      skipped,
    }
    const expand = (s: string) =>
      s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a, b) => {
        const name = (a ?? b) as string
        return env[name] ?? args[name] ?? all
      })
    // An absolute path of the stage's filesystem, on this machine.
    const local = (p: string) => {
      for (const [target, dir] of cacheMounts) {
        if (p === target || p.startsWith(`${target}/`)) return dir + p.slice(target.length)
      }
      return join(root, p)
    }
    const inStage = (p: string) => (p.startsWith('/') ? local(p) : join(local(workdir), p))

    for (const ins of stage.instructions) {
      options.onStep?.(stage.name, ins)
      const a = expand(ins.args)
      switch (ins.keyword) {
        case 'ARG': {
          const [name, value] = a.split('=', 2) as [string, string?]
          args[name] = value ?? file.globalArgs[name] ?? ''
          break
        }
        case 'ENV':
          for (const m of a.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
            env[m[1]!] = m[2]!.replace(/^"|"$/g, '')
          }
          break
        case 'WORKDIR':
          workdir = posix.resolve(workdir, a)
          mkdirSync(local(workdir), { recursive: true })
          break
        case 'COPY':
          copy(a, { context: options.context, ignored, roots, inStage })
          break
        case 'RUN': {
          let command = a
          for (const m of a.matchAll(/--mount=(\S+)\s*/g)) {
            const opts = Object.fromEntries(m[1]!.split(',').map((kv) => kv.split('=', 2)))
            if (opts.type !== 'cache')
              throw new Error(`line ${ins.line}: only cache mounts run here`)
            const dir = options.caches[opts.id ?? opts.target]
            if (dir === undefined)
              throw new Error(`line ${ins.line}: no local cache for ${opts.id}`)
            cacheMounts.set(opts.target, dir)
            command = command.replace(m[0], '')
          }
          const reason = options.skip(command)
          if (reason !== undefined) {
            skipped.push({ command, reason })
            break
          }
          const mapped = mapAbsolutePaths(command, local)
          const mappedEnv = Object.fromEntries(
            Object.entries(env).map(([k, v]) => [k, v.startsWith('/') ? local(v) : v]),
          )
          try {
            await run('sh', ['-c', mapped], {
              cwd: local(workdir),
              env: { ...options.env, ...mappedEnv },
              timeout: 600_000,
              maxBuffer: 64 * 1024 * 1024,
            })
          } catch (error) {
            const e = error as { stdout?: string; stderr?: string }
            throw new Error(
              `Dockerfile line ${ins.line}: RUN ${command} failed\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
            )
          }
          cacheMounts.clear()
          break
        }
        case 'USER':
          state.user = a
          break
        case 'EXPOSE':
          state.expose.push(...a.split(/\s+/).map((p) => Number.parseInt(p, 10)))
          break
        case 'CMD':
          state.cmd = JSON.parse(a) as string[]
          break
        case 'HEALTHCHECK': {
          const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(a)
          if (m === null) throw new Error(`line ${ins.line}: HEALTHCHECK needs CMD [...]`)
          const opts = Object.fromEntries(
            [...m[1]!.matchAll(/--([a-z-]+)=(\S+)/g)].map((x) => [x[1]!, x[2]!]),
          )
          state.healthcheck = { options: opts, cmd: JSON.parse(m[2]!) as string[] }
          break
        }
        case 'STOPSIGNAL':
          state.stopSignal = a
          break
        default:
          throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} is not run here`)
      }
    }
    state.workdir = workdir
    image = state
  }
  if (image === undefined) throw new Error('a Dockerfile without a stage')
  return image
}

function mapAbsolutePaths(command: string, local: (p: string) => string): string {
  return command.replace(
    /(^|[\s=])(\/[A-Za-z0-9._\-/]*)/g,
    (_, pre: string, p: string) => pre + local(p),
  )
}

function copy(
  args: string,
  ctx: {
    context: string
    ignored: (path: string) => boolean
    roots: Map<string, string>
    inStage: (p: string) => string
  },
): void {
  const words = args.split(/\s+/)
  let from: string | undefined
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length)
    else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=')) {
      throw new Error(`COPY ${flag} is not supported here`)
    }
  }
  const dest = words.pop()!
  const target = ctx.inStage(dest)
  const intoDir = dest.endsWith('/') || dest === '.' || words.length > 1
  for (const src of words) {
    if (from !== undefined) {
      const root = ctx.roots.get(from)
      if (root === undefined) throw new Error(`COPY --from=${from}: no such stage`)
      const source = join(root, src)
      const to = intoDir ? join(target, posix.basename(src)) : target
      mkdirSync(dirname(to), { recursive: true })
      cpSync(source, to, { recursive: true, verbatimSymlinks: true })
    } else {
      const source = join(ctx.context, src)
      const isDir = statSync(source).isDirectory()
      const to = intoDir && !isDir ? join(target, posix.basename(src)) : target
      copyContext(ctx.context, source, to, ctx.ignored)
    }
  }
}

// Copies from the build context, skipping what .dockerignore excludes.
function copyContext(
  context: string,
  source: string,
  to: string,
  ignored: (path: string) => boolean,
): void {
  const rel = relative(context, source)
  if (rel !== '' && ignored(rel)) throw new Error(`COPY ${rel}: excluded by .dockerignore`)
  if (!statSync(source).isDirectory()) {
    mkdirSync(dirname(to), { recursive: true })
    cpSync(source, to)
    return
  }
  mkdirSync(to, { recursive: true })
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`
    if (ignored(childRel)) continue
    const child = join(source, entry.name)
    if (entry.isDirectory()) copyContext(context, child, join(to, entry.name), ignored)
    else if (entry.isFile() || entry.isSymbolicLink()) {
      cpSync(child, join(to, entry.name), { verbatimSymlinks: true })
    }
  }
}
