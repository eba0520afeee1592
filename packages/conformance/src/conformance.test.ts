import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { adapters } from './adapters/index.ts'
import { suites } from './scenarios/index.ts'

beforeAll(() => {
  // The user's OpenTelemetry setup: what makes "the active span" an async context.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
})
afterAll(() => {
  context.disable()
})

for (const adapter of adapters) {
  describe(adapter.name, () => {
    for (const suite of suites) {
      describe(suite.feature, () => {
        for (const scenario of suite.scenarios) {
          it(scenario.name, () => scenario.run(adapter), scenario.timeoutMs)
        }
      })
    }
  })
}
