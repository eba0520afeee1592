import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@sturdy/client',
    include: ['src/**/*.test.ts'],
    // Type tests (`*.test-d.ts`: expectTypeOf / assertType) are checked by tsc as tests.
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
