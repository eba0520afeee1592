import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/chaos', include: ['src/**/*.test.ts'] },
})
