import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@sturdy/fastify', include: ['src/**/*.test.ts'] },
})
