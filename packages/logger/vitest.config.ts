import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/logger', include: ['src/**/*.test.ts'] },
})
