import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/timeout', include: ['src/**/*.test.ts'] },
})
