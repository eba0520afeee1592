import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@sturdy/reliability',
    include: ['test/**/*.test.ts'],
    // The example's setup (the built app, a migrated PGlite template), then the report:
    // docs/reliability.md is written at teardown from what every file measured.
    globalSetup: ['test/global-setup.ts'],
    // Each file runs the example's services as real processes and loads them: one file
    // at a time, so the figures are the services', not the neighbouring file's.
    fileParallelism: false,
    // Not a project of the root vitest.config.ts (not in `pnpm test`): its timing bounds need
    // the machine to itself (scripts/reliability.mjs runs it as a CI part, last and alone).
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
})
