// Context for the fragments in packages/timeout/README.md (see consumers/README.md).

import { TimeoutError } from '@sturdy/core'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { callBudget, deadline, group, stampDeadline } from '@sturdy/timeout'
import { type Context, Hono } from 'hono'

// The app of the quick start: a request deadline, Sturdy errors rendered as problem+json.
const app = new Hono<{ Variables: { userId: string } }>().use(sturdy(deadline({ budgetMs: 2000 })))
app.onError(problemErrorHandler())
const shutdown = new AbortController()
// A handler's `c` where a fragment uses one outside a route.
declare const c: { var: { signal: AbortSignal; deadline: number | undefined } }
const searchHandler = (ctx: Context): Response => ctx.text('results')
// An event source that yields every 100 ms until the signal aborts.
function nextEvent(signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve('tick')
    }, 100)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
interface Item {
  id: string
}
const sku = 'sku-1'
const ids = ['a', 'b']
async function getUser(id: string, signal: AbortSignal): Promise<{ id: string }> {
  signal.throwIfAborted()
  return { id }
}
async function reserveStock(item: string, signal: AbortSignal): Promise<number> {
  signal.throwIfAborted()
  return item.length
}
async function quotePrice(item: string, signal: AbortSignal): Promise<number> {
  signal.throwIfAborted()
  return item.length * 100
}
async function loadItem(id: string, signal: AbortSignal): Promise<Item> {
  signal.throwIfAborted()
  return { id }
}
function expect(actual: unknown): { toBe(expected: unknown): void } {
  return {
    toBe(expected) {
      if (actual !== expected)
        throw new Error(`expected ${String(expected)}, got ${String(actual)}`)
    },
  }
}
