// The workspace as the CI scripts see it: the root, and the published packages (every
// `packages/*` whose package.json is not private), with the entry points they publish.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * @typedef {object} PublishedPackage
 * @property {string} name      e.g. `@sturdy/core`
 * @property {string} dir       folder name under packages/, e.g. `core`
 * @property {string} path      absolute path of the package folder
 * @property {any} manifest     its package.json
 * @property {string[]} entries the import specifiers it publishes (`@sturdy/core`, `@sturdy/core/testing`)
 */

/** @returns {PublishedPackage[]} sorted by name */
export function publishedPackages() {
  const base = join(ROOT, 'packages')
  const found = []
  for (const dir of readdirSync(base)) {
    const file = join(base, dir, 'package.json')
    if (!existsSync(file)) continue
    const manifest = JSON.parse(readFileSync(file, 'utf8'))
    if (manifest.private === true) continue
    found.push({
      name: manifest.name,
      dir,
      path: join(base, dir),
      manifest,
      entries: entries(manifest),
    })
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

function entries(manifest) {
  const exports = manifest.publishConfig?.exports ?? manifest.exports
  if (exports === undefined || typeof exports === 'string') return [manifest.name]
  const keys = Object.keys(exports)
  if (!keys.every((k) => k.startsWith('.'))) return [manifest.name]
  return keys
    .filter((k) => k !== './package.json' && !k.includes('*'))
    .map((k) => (k === '.' ? manifest.name : `${manifest.name}/${k.slice(2)}`))
}

/** The version range the workspace itself uses for a dependency, if any package lists it. */
export function workspaceRange(name) {
  const manifests = [JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))]
  for (const group of ['packages', 'apps']) {
    const base = join(ROOT, group)
    if (!existsSync(base)) continue
    for (const dir of readdirSync(base)) {
      const file = join(base, dir, 'package.json')
      if (existsSync(file)) manifests.push(JSON.parse(readFileSync(file, 'utf8')))
    }
  }
  for (const m of manifests) {
    for (const field of ['dependencies', 'devDependencies']) {
      const range = m[field]?.[name]
      if (
        typeof range === 'string' &&
        !range.startsWith('workspace:') &&
        !range.startsWith('npm:')
      ) {
        return range
      }
    }
  }
  return undefined
}
