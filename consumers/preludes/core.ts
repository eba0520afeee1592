// Context for the fragments in packages/core/README.md (see consumers/README.md).
import type { ServerResponse } from 'node:http'
import { retry } from '@sturdy/retry'
import { timeout } from '@sturdy/timeout'

const outer = timeout(2000)
const inner = retry()
const url = 'http://127.0.0.1:9000/pay'
const callerSignal = new AbortController().signal
// What a handler has at hand when it answers by itself.
declare const error: unknown
declare const res: ServerResponse
