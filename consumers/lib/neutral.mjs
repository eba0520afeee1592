// Which installed modules are runtime-neutral: their static and dynamic import graph, as
// resolved in a consumer project's node_modules with the `import`/`default` conditions,
// reaches no Node built-in (`node:*`, `fs`, ...). Those are the ones smoke-tested under
// Bun and Deno.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import ts from 'typescript'

const BUILTINS = new Set(builtinModules)
const CONDITIONS = new Set(['import', 'module', 'default'])

export function neutralChecker(projectDir) {
  /** file -> undefined (neutral) | string (why not) */
  const memo = new Map()

  function file(path, seen) {
    if (memo.has(path)) return memo.get(path)
    if (seen.has(path)) return undefined
    seen.add(path)
    let why
    const text = readFileSync(path, 'utf8')
    const { importedFiles } = ts.preProcessFile(text, true, true)
    for (const { fileName: spec } of importedFiles) {
      why = specifier(spec, dirname(path), seen)
      if (why !== undefined) {
        why = `${short(path)} → ${why}`
        break
      }
    }
    memo.set(path, why)
    return why
  }

  function specifier(spec, fromDir, seen = new Set()) {
    if (spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0])) {
      return spec
    }
    const target =
      spec.startsWith('.') || spec.startsWith('/')
        ? asFile(resolve(fromDir, spec))
        : bare(spec, fromDir)
    if (target === undefined) return undefined // unresolvable: not our question here
    return file(target, seen)
  }

  function short(path) {
    const i = path.lastIndexOf('node_modules/')
    return i === -1 ? path : path.slice(i + 'node_modules/'.length)
  }

  return {
    /** @returns {string | undefined} undefined when neutral, else the chain to a built-in */
    why: (spec) => specifier(spec, projectDir),
  }
}

function bare(spec, fromDir) {
  const parts = spec.split('/')
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  const sub = spec.slice(name.length)
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name)
    if (existsSync(join(pkgDir, 'package.json'))) {
      const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
      const rel = exportTarget(manifest, `.${sub}`)
      return rel === undefined ? undefined : asFile(join(pkgDir, rel))
    }
    if (dirname(dir) === dir) return undefined
  }
}

function exportTarget(manifest, subpath) {
  const exp = manifest.exports
  if (exp === undefined) {
    if (subpath !== '.') return subpath
    return manifest.module ?? manifest.main ?? 'index.js'
  }
  const map =
    typeof exp === 'string' || Array.isArray(exp) || !Object.keys(exp)[0]?.startsWith('.')
      ? { '.': exp }
      : exp
  if (map[subpath] !== undefined) return pick(map[subpath])
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf('*')
    if (star === -1) continue
    const [pre, post] = [key.slice(0, star), key.slice(star + 1)]
    if (subpath.startsWith(pre) && subpath.endsWith(post)) {
      const t = pick(value)
      return t?.replace('*', subpath.slice(pre.length, subpath.length - post.length))
    }
  }
  return undefined
}

function pick(target) {
  if (typeof target === 'string') return target
  if (Array.isArray(target)) return pick(target[0])
  if (target === null || typeof target !== 'object') return undefined
  for (const [cond, value] of Object.entries(target)) {
    if (CONDITIONS.has(cond)) {
      const t = pick(value)
      if (t !== undefined) return t
    }
  }
  return undefined
}

function asFile(path) {
  for (const candidate of [
    path,
    `${path}.js`,
    `${path}.mjs`,
    join(path, 'index.js'),
    join(path, 'index.mjs'),
  ]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) {
      return /\.(c|m)?js$/.test(candidate) ? candidate : undefined
    }
  }
  return undefined
}
