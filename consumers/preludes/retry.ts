// Context for the fragments in packages/retry/README.md (see consumers/README.md).
import { doNotRetry, httpRetryableResult, idempotentOnly, retry } from '@sturdy/retry'

const url = 'http://127.0.0.1:9000/pay'
const body = JSON.stringify({ amount: 1 })
const policy = retry()
