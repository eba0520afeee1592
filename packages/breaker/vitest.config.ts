import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/breaker', include: ['src/**/*.test.ts'] },
})
