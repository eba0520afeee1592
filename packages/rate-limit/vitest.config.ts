import { defineProject } from 'vitest/config'
import { sharedTest } from '../../vitest.shared.ts'

export default defineProject({
  test: {
    ...sharedTest,
    name: '@sturdy/rate-limit',
    include: ['src/**/*.test.ts'],
    // Starts a real redis-server on a free 127.0.0.1 port for the Redis tests, and stops it.
    globalSetup: ['../../scripts/redis-global-setup.ts'],
  },
})
