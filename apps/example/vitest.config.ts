import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@sturdy/example',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Once per run: Debian packages, the built app, a migrated PGlite template.
    globalSetup: ['test/global-setup.ts'],
    // The end-to-end files start real processes (the app, PostgreSQL, Prometheus,
    // Chromium): one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
