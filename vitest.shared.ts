/**
 * Test settings every workspace project spreads into its `test` block. CI runs the suites
 * side by side on 2 cores (three Node versions, consumers, API docs), so a test that
 * takes 200 ms alone can take seconds there: timeouts are generous, and speed is measured
 * in `bench/`, never by a test's timeout.
 */
export const sharedTest: { testTimeout: number; hookTimeout: number } = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
}
