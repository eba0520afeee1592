import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/connect', include: ['src/**/*.test.ts'] },
})
