import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/tracing', include: ['src/**/*.test.ts'] },
})
