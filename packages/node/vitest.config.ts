import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/node', include: ['src/**/*.test.ts'] },
})
