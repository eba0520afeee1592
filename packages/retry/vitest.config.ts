import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/retry', include: ['src/**/*.test.ts'] },
})
