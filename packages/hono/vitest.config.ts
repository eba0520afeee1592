import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/hono', include: ['src/**/*.test.ts'] },
})
