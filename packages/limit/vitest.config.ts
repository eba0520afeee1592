import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/limit', include: ['src/**/*.test.ts'] },
})
