import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/lifecycle', include: ['src/**/*.test.ts'] },
})
