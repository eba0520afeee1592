import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/core', include: ['src/**/*.test.ts'] },
})
