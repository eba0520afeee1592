import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'
import { migrate } from '../src/db/migrations.ts'
import { pgliteDatabase } from '../src/db/pglite.ts'
import { APP_DIR, ensureApt } from '../src/testing.ts'

const run = promisify(execFile)

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated PGlite data dir; tests copy it (`copyDataDir`) instead of running initdb. */
    pgliteTemplate: string
    /** Which Debian packages are there (installed now if they were missing). */
    apt: { postgresql: boolean; prometheus: boolean; chromium: boolean }
  }
}

/**
 * Once per run: the Debian packages the tests use (installed when missing), the app
 * built as production runs it (`dist/main.js`), and a migrated PGlite data dir —
 * PGlite's initdb costs seconds of CPU, a copy costs nothing.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const [postgresql, prometheus, chromium] = await Promise.all([
    ensureApt('postgresql'),
    ensureApt('prometheus'),
    ensureApt('chromium'),
  ])
  project.provide('apt', { postgresql, prometheus, chromium })
  await run('pnpm', ['exec', 'tsdown', '--logLevel', 'warn'], { cwd: APP_DIR, timeout: 300_000 })
  const template = mkdtempSync(join(tmpdir(), 'sturdy-pglite-template-'))
  const db = await pgliteDatabase(template)
  await migrate(db)
  await db.close()
  project.provide('pgliteTemplate', template)
  return () => rmSync(template, { recursive: true, force: true })
}
