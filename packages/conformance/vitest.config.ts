import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/conformance', include: ['src/**/*.test.ts'] },
})
