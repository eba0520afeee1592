import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/bench', include: ['src/**/*.test.ts'] },
})
