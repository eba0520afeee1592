// Context for the fragments in packages/breaker/README.md (see consumers/README.md):
// a block gets only the statements for names it uses and does not declare itself.
import { EventEmitter } from 'node:events'
import { circuitBreaker, defaultOutcome, keyedBreaker } from '@sturdy/breaker'
import { compose } from '@sturdy/core'
import { retry } from '@sturdy/retry'
import { timeout } from '@sturdy/timeout'

const breaker = circuitBreaker({ name: 'payments' })
const stream = new EventEmitter()
const url = 'http://127.0.0.1:9000/pay'
async function buildReport(id: string): Promise<{ id: string }> {
  return { id }
}
