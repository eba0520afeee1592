import { defineProject } from 'vitest/config'

// The CI harness's own tests (README block classification, prelude merge, known-failure
// bookkeeping, runtime-neutral detection).
export default defineProject({
  test: { name: 'ci-harness', include: ['test/**/*.test.mjs'] },
})
