import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'
import { REPO_DIR } from './paths.ts'

const run = promisify(execFile)

declare module 'vitest' {
  export interface ProvidedContext {
    /** Whether promtool is there (Debian's prometheus package, installed now if missing). */
    promtool: boolean
  }
}

/** Installs Debian's prometheus package when missing (scripts/ensure-apt.sh, idempotent). */
export default async function setup(project: TestProject): Promise<void> {
  let promtool = true
  try {
    await run('bash', [join(REPO_DIR, 'scripts/ensure-apt.sh'), 'prometheus'], { timeout: 600_000 })
  } catch {
    promtool = false
  }
  project.provide('promtool', promtool)
}
