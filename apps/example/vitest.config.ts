import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/example', include: ['src/**/*.test.ts'] },
})
