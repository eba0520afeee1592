import { defineConfig } from 'vitest/config'

// One vitest project per workspace package: `pnpm test` runs them all,
// `pnpm --filter <pkg> test` runs one.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'bench/vitest.config.ts',
      'consumers/vitest.config.mjs',
      'deploy/vitest.config.ts',
    ],
  },
})
