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
    /** Whether PostgreSQL is there (Debian's postgresql package, installed now if missing). */
    postgresql: boolean
  }
}

/** Installs a Debian package when missing (scripts/ensure-apt.sh, idempotent); whether it is there. */
async function ensureApt(pkg: string): Promise<boolean> {
  try {
    await run('bash', [join(REPO_DIR, 'scripts/ensure-apt.sh'), pkg], { timeout: 600_000 })
    return true
  } catch {
    return false
  }
}

/**
 * Debian's prometheus (promtool, for the rules) and postgresql (the database the pods
 * of gateway and users get in the dev overlay, for the image test), installed when
 * missing. One after the other: two apt runs would wait on each other's lock anyway.
 */
export default async function setup(project: TestProject): Promise<void> {
  project.provide('promtool', await ensureApt('prometheus'))
  project.provide('postgresql', await ensureApt('postgresql'))
}
