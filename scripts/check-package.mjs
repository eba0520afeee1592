#!/usr/bin/env node
// Packaging gate, run by every published package's `build` script after tsdown.
// It packs the package the way `pnpm publish` would (publishConfig applied, so the
// exports resolve `dist`), then runs publint --strict and are-the-types-wrong on that
// tarball. Any error fails the build.
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
  run(bin('attw'), [file, '--profile', 'esm-only', '--format', 'table-flipped'])
} catch (error) {
  console.error(`packaging gate failed: ${error.message}`)
  process.exitCode = 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
