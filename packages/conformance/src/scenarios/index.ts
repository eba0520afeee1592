import type { Suite } from '../scenario.ts'
import { breakerScenarios } from './breaker.ts'
import { chaosScenarios } from './chaos.ts'
import { coreScenarios } from './core.ts'
import { lifecycleScenarios } from './lifecycle.ts'
import { limitScenarios } from './limit.ts'
import { loggerScenarios } from './logger.ts'
import { metricsScenarios } from './metrics.ts'
import { rateLimitScenarios } from './rate-limit.ts'
import { timeoutScenarios } from './timeout.ts'
import { tracingScenarios } from './tracing.ts'

/** Every feature the suite proves. A new feature joins by adding its suite here. */
export const suites: readonly Suite[] = [
  { feature: '@sturdy/core', scenarios: coreScenarios },
  { feature: '@sturdy/timeout', scenarios: timeoutScenarios },
  { feature: '@sturdy/breaker', scenarios: breakerScenarios },
  { feature: '@sturdy/metrics', scenarios: metricsScenarios },
  { feature: '@sturdy/tracing', scenarios: tracingScenarios },
  { feature: '@sturdy/logger', scenarios: loggerScenarios },
  { feature: '@sturdy/rate-limit', scenarios: rateLimitScenarios },
  { feature: '@sturdy/chaos', scenarios: chaosScenarios },
  { feature: '@sturdy/lifecycle', scenarios: lifecycleScenarios },
  { feature: '@sturdy/limit', scenarios: limitScenarios },
]
