import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/example-proto', include: ['src/**/*.test.ts'] },
})
