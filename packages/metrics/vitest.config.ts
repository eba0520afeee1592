import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/metrics', include: ['src/**/*.test.ts'] },
})
