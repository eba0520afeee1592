import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/client', include: ['src/**/*.test.ts'] },
})
