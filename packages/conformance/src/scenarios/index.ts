import type { Suite } from '../scenario.ts'
import { coreScenarios } from './core.ts'

/** Every feature the suite proves. A new feature joins by adding its suite here. */
export const suites: readonly Suite[] = [{ feature: '@sturdy/core', scenarios: coreScenarios }]
