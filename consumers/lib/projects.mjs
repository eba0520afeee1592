// The temporary consumer projects: packing the published packages, choosing versions
// (lowest and highest of every peer range), writing each project's package.json and
// installing it with plain npm.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { pool, run, tail } from '../../scripts/lib/proc.mjs'
import { NPM_CACHE, NPM_FLAGS } from '../../scripts/lib/tools.mjs'
import { ROOT, workspaceRange } from '../../scripts/lib/workspace.mjs'
import { COMPANION_RANGES } from '../config.mjs'

/**
 * `pnpm pack` every published package (publishConfig applied, `workspace:` ranges
 * replaced) in one recursive pnpm call.
 *
 * @returns {Promise<Map<string, string>>} package name -> tarball path
 */
export async function packAll(pkgs, dest) {
  mkdirSync(dest, { recursive: true })
  const filters = pkgs.flatMap((p) => ['--filter', p.name])
  const r = await run('pnpm', ['-r', ...filters, 'pack', '--pack-destination', dest], { cwd: ROOT })
  if (r.code !== 0) throw new Error(`pnpm pack failed:\n${tail(r.stderr || r.stdout)}`)
  const files = new Set(readdirSync(dest))
  const tarballs = new Map()
  for (const p of pkgs) {
    const file = `${p.name.replace('@', '').replace('/', '-')}-${p.manifest.version}.tgz`
    if (!files.has(file)) throw new Error(`pnpm pack wrote no ${file} for ${p.name}`)
    tarballs.set(p.name, join(dest, file))
  }
  return tarballs
}

/** Peer dependencies of the published packages (other than `@sturdy/*`): name -> ranges. */
export function peerRanges(pkgs) {
  const ranges = new Map()
  for (const p of pkgs) {
    for (const [name, range] of Object.entries(p.manifest.peerDependencies ?? {})) {
      if (name.startsWith('@sturdy/')) continue
      ranges.set(name, [...new Set([...(ranges.get(name) ?? []), range])])
    }
  }
  return ranges
}

/**
 * The lowest and highest published version satisfying every package's range for each
 * peer dependency. A companion package (see `companions`) that declares the same peer
 * narrows the choice, as it would for a user installing both: the log says so.
 *
 * @param {Map<string, string[]>} ranges from `peerRanges`
 * @param {Map<string, string>} extra companions: name -> range
 * @returns {Promise<{ versions: Map<string, { lowest: string, highest: string }>, notes: string[] }>}
 */
export async function peerVersions(ranges, extra) {
  const constraints = new Map([...ranges].map(([n, rs]) => [n, rs.map((range) => ({ range }))]))
  await pool(
    8,
    [...extra].map(([name, range]) => async () => {
      const versions = (await viewVersions(name, range)).sort(compareVersions)
      if (versions.length === 0) return
      const peers = await viewField(`${name}@${versions.at(-1)}`, 'peerDependencies')
      for (const [peer, peerRange] of Object.entries(peers ?? {})) {
        constraints.get(peer)?.push({ range: peerRange, from: `${name}@${versions.at(-1)}` })
      }
    }),
  )
  const versions = new Map()
  const notes = []
  await pool(
    8,
    [...constraints].map(([name, list]) => async () => {
      let ours
      let all
      for (const c of list) {
        const set = new Set(await viewVersions(name, c.range))
        all = all === undefined ? set : new Set([...all].filter((v) => set.has(v)))
        if (c.from === undefined)
          ours = ours === undefined ? set : new Set([...ours].filter((v) => set.has(v)))
      }
      const mine = [...ours].sort(compareVersions)
      const sorted = [...all].sort(compareVersions)
      if (sorted.length === 0) {
        throw new Error(
          `no published ${name} satisfies ${list.map((c) => c.range + (c.from ? ` (${c.from})` : '')).join(' and ')}`,
        )
      }
      versions.set(name, { lowest: sorted[0], highest: sorted.at(-1) })
      if (sorted[0] !== mine[0] || sorted.at(-1) !== mine.at(-1)) {
        const by = list.filter((c) => c.from).map((c) => `${c.from} wants ${c.range}`)
        notes.push(
          `${name}: the packages' range allows ${mine[0]}–${mine.at(-1)}; tested ${sorted[0]}–${sorted.at(-1)} because ${by.join(', ')}`,
        )
      }
    }),
  )
  return { versions, notes }
}

/** `npm view ... --json`, retried once (a registry hiccup would fail the whole part). */
async function npmView(args) {
  const argv = ['view', ...args, '--json', '--cache', NPM_CACHE, '--prefer-offline']
  const r = await run('npm', argv, { timeoutMs: 120_000 })
  return r.code === 0 ? r : run('npm', argv, { timeoutMs: 120_000 })
}

async function viewField(spec, field) {
  const r = await npmView([spec, field])
  if (r.code !== 0) throw new Error(`npm view ${spec} ${field} failed: ${tail(r.stderr, 400)}`)
  return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
}

async function viewVersions(name, range) {
  const r = await npmView([`${name}@${range}`, 'version'])
  if (r.code !== 0) throw new Error(`npm view ${name}@${range} failed: ${tail(r.stderr, 400)}`)
  const parsed = JSON.parse(r.stdout || '[]')
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => !v.includes('-'))
}

function compareVersions(a, b) {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i]
  return 0
}

const BUILTINS = new Set(builtinModules)

/**
 * Packages the READMEs use besides the Sturdy packages and their peers: every bare import
 * of a README block or prelude, and every package a README's install line names
 * (```sh `npm i ...` / `pnpm add ...`). Versions: the workspace's own range, else
 * COMPANION_RANGES, else latest.
 *
 * @param {{ has(name: string): boolean }} peers peer names, which are not companions
 * @returns {Map<string, string>} name -> range
 */
export function companions(pkgs, blocks, peers) {
  const names = new Set()
  for (const b of blocks) {
    for (const spec of b.imports) {
      if (spec.startsWith('.') || spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0]))
        continue
      const parts = spec.split('/')
      names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0])
    }
  }
  for (const p of pkgs) {
    let readme = ''
    try {
      readme = readFileSync(join(p.path, 'README.md'), 'utf8')
    } catch {}
    for (const m of readme.matchAll(/^\s*(?:npm (?:i|install)|pnpm add|yarn add)\s+(.+)$/gm)) {
      for (const word of m[1].split(/\s+/)) {
        if (word.startsWith('#')) break
        if (word === '' || word.startsWith('-')) continue
        names.add(word.replace(/(.)@[^/]*$/, '$1'))
      }
    }
  }
  const out = new Map()
  for (const name of [...names].sort()) {
    if (name.startsWith('@sturdy/') || peers.has(name)) continue
    out.set(name, workspaceRange(name) ?? COMPANION_RANGES[name] ?? 'latest')
  }
  return out
}

/**
 * Writes a project's package.json (tarballs as `file:` dependencies, pinned by
 * `overrides` so npm never asks the registry for a `@sturdy/*` package) and installs it.
 */
export async function install(dir, { type, tarballs, deps }) {
  mkdirSync(dir, { recursive: true })
  const dependencies = {}
  const overrides = {}
  for (const [name, tgz] of tarballs) {
    dependencies[name] = `file:${tgz}`
    overrides[name] = `$${name}`
  }
  for (const [name, range] of deps) dependencies[name] = range
  const manifest = { name: `sturdy-consumer-${type}`, private: true, type, dependencies, overrides }
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  // One retry: the registry is slow at times, and a failed install fails a whole project.
  let r = await run('npm', ['install', ...NPM_FLAGS], { cwd: dir, timeoutMs: 15 * 60_000 })
  if (r.code !== 0)
    r = await run('npm', ['install', ...NPM_FLAGS], { cwd: dir, timeoutMs: 15 * 60_000 })
  return r
}

/** The version npm actually installed, for the log. */
export function installedVersion(dir, name) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'missing'
  }
}
