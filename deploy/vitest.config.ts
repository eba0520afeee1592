import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@sturdy/deploy',
    include: ['src/**/*.test.ts'],
    // Once per run: Debian's prometheus package (promtool), installed when missing.
    globalSetup: ['src/global-setup.ts'],
    // The image test builds the app and runs it as four processes: one file at a time
    // keeps a 2-core machine responsive.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
})
