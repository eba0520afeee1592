#!/usr/bin/env node
// Packaging gate, run by every published package's `build` script after tsdown.
// It packs the package the way `pnpm publish` would (publishConfig applied, so the
// exports resolve `dist`), then runs publint --strict and are-the-types-wrong on that
// tarball. Any error fails the build. are-the-types-wrong checks every resolution mode,
// node10 (`moduleResolution: node`, through the top-level main/types and typesVersions)
// included, except that a `require` under `module: node16` reaching our ESM is expected:
// the packages are ESM only, and TypeScript's node16 mode will not `require` an ES module
// (TS1479; `nodenext` will, as Node >= 20.19 does) — documented in every README.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const bin = (name) =>
  join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', name)
const dir = mkdtempSync(join(tmpdir(), 'sturdy-pack-'))
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' })
try {
  run('pnpm', ['pack', '--pack-destination', dir])
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))
  if (!tarball) throw new Error('pnpm pack produced no tarball')
  const file = join(dir, tarball)
  run(bin('publint'), ['run', file, '--strict'])
  run(bin('attw'), [file, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped'])
} catch (error) {
  console.error(`packaging gate failed: ${error.message}`)
  process.exitCode = 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
