import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/express', include: ['src/**/*.test.ts'] },
})
