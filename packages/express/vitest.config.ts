import { defineProject } from 'vitest/config'
import { sharedTest } from '../../vitest.shared.ts'

export default defineProject({
  test: {
    ...sharedTest,
    name: '@sturdy/express',
    include: ['src/**/*.test.ts'],
    // Type tests (`*.test-d.ts`: expectTypeOf / assertType) are checked by tsc as tests.
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
