import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import exampleSetup from '@sturdy/example/test/global-setup.ts'
import type { TestProject } from 'vitest/node'
import { writeReport } from '../src/report.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where each file writes what it measured (`recordFigures`), read at teardown. */
    resultsDir: string
  }
}

/**
 * The example's own setup (the app built as production runs it, a migrated PGlite
 * template, the Debian packages its helpers use), a directory for the figures, and at
 * teardown `docs/reliability.md` from them — rewritten only when every part ran.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardownExample = await exampleSetup(project)
  const resultsDir = mkdtempSync(join(tmpdir(), 'sturdy-reliability-'))
  project.provide('resultsDir', resultsDir)
  return async () => {
    try {
      writeReport(resultsDir)
    } finally {
      rmSync(resultsDir, { recursive: true, force: true })
      teardownExample()
    }
  }
}
