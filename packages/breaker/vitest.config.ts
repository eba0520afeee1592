import { defineProject } from 'vitest/config'
import { sharedTest } from '../../vitest.shared.ts'

export default defineProject({
  test: {
    ...sharedTest,
    name: '@sturdy/breaker',
    include: ['src/**/*.test.ts'],
    // Starts a real redis-server on a free 127.0.0.1 port for the shared-state tests, and stops it.
    globalSetup: ['../../scripts/redis-global-setup.ts'],
    // Type tests (`*.test-d.ts`: expectTypeOf / assertType) are checked by tsc as tests.
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
