import type { Interceptor } from '@connectrpc/connect'
import { ConnectError } from '@connectrpc/connect'
import type {
  OutgoingResend,
  RequestValues,
  RpcCall,
  RpcCode,
  RpcInterceptor,
  RpcMetadata,
} from '@sturdy/core'
import { RPC_CODES } from '@sturdy/core'
import type { AnyRequest, AnyResponse } from './call.ts'
import { attemptOf, protocolOf, systemOf, whenDone } from './call.ts'
import { callerValues, valuesOf } from './values.ts'

/**
 * Mounts RPC observers — `rpcSpans()` (`@sturdy/tracing`), `rpcMetrics()`
 * (`@sturdy/metrics`), `rpcLogger()` (`@sturdy/logger`), or any core `RpcInterceptor` —
 * on a Connect server. Each call is seen once, from its arrival to its last message,
 * with the code its caller gets; values the observers share (`trace`, `log`,
 * `requestId`) reach the handler through `valuesOf(ctx)`.
 *
 * Place it first (outermost), so it sees what the other interceptors decide (a spent
 * deadline, an open breaker), and list `rpcSpans()` before `rpcLogger()` so log lines
 * carry the trace ids.
 *
 * @param observers the observers, outermost first
 * @returns a Connect interceptor
 * @example
 * import { serverObservers } from '@sturdy/connect'
 * import { rpcLogger } from '@sturdy/logger'
 * import { rpcMetrics } from '@sturdy/metrics'
 * import { rpcSpans } from '@sturdy/tracing'
 *
 * connectNodeAdapter({
 *   routes,
 *   interceptors: [serverObservers(rpcSpans(), rpcMetrics({ registry }), rpcLogger({ logger }))],
 * })
 */
export function serverObservers(...observers: readonly RpcInterceptor[]): Interceptor {
  return observe('server', observers)
}

/**
 * Mounts RPC observers on a Connect client: each attempt is seen once (a retry is an
 * attempt of its own, with `attempt` and `resend` telling why), and a CLIENT span's
 * `traceparent` goes out in that attempt's metadata. The request's values come from
 * `callContext()`.
 *
 * Place it inside `clientRetry()` and outside `clientBreaker()` and `clientDeadline()`,
 * so an attempt the open circuit refused, or that had no time left, is observed too.
 *
 * @param observers the observers, outermost first
 * @returns a Connect interceptor
 * @example
 * createGrpcTransport({
 *   baseUrl: 'http://127.0.0.1:50051',
 *   interceptors: [clientRetry(), clientObservers(rpcSpans(), rpcMetrics()), clientBreaker(), clientDeadline()],
 * })
 */
export function clientObservers(...observers: readonly RpcInterceptor[]): Interceptor {
  return observe('client', observers)
}

function observe(side: 'server' | 'client', observers: readonly RpcInterceptor[]): Interceptor {
  const list = [...observers]
  if (list.length === 0) return (next) => next
  // Call URLs repeat: each is parsed once per interceptor (a bounded cache, not a global).
  const servers = new Map<string, ServerTarget>()
  return (next) =>
    function observed(req: AnyRequest): Promise<AnyResponse> {
      const call = new Call(side, req, servers)
      return new Promise<AnyResponse>((deliver, fail) => {
        const last = async (): Promise<void> => {
          let res: AnyResponse
          try {
            res = await next(req)
          } catch (error) {
            call.settle(error)
            throw error
          }
          if (!res.stream) {
            call.settle(undefined)
            deliver(res)
            return
          }
          // Observers wrap the whole call: for a stream, `next()` settles at its end.
          await new Promise<void>((resolve, reject) => {
            deliver(
              whenDone(res, (error) => {
                call.settle(error)
                if (error === undefined) resolve()
                else reject(error)
              }),
            )
          })
        }
        run(list, 0, call, last).then(undefined, fail)
      })
    }
}

function run(
  list: readonly RpcInterceptor[],
  i: number,
  call: Call,
  last: () => Promise<void>,
): Promise<void> {
  if (i === list.length) return last()
  let called = false
  return (list[i] as RpcInterceptor)(call, () => {
    if (called) return Promise.reject(new Error('next() called more than once'))
    called = true
    return run(list, i + 1, call, last)
  })
}

/** The `RpcCall` one interceptor chain shares. */
class Call implements RpcCall {
  readonly side: 'server' | 'client'
  readonly system: string
  readonly service: string
  readonly method: string
  readonly streaming: boolean
  readonly header: RpcMetadata
  readonly serverAddress: string | undefined
  readonly serverPort: number | undefined
  readonly attempt: number
  readonly resend: OutgoingResend | undefined
  readonly values: RequestValues
  code: RpcCode = 'OK'
  error: unknown = undefined
  readonly #own: Record<string, unknown> | undefined

  constructor(side: 'server' | 'client', req: AnyRequest, servers: Map<string, ServerTarget>) {
    this.side = side
    this.system = systemOf(protocolOf(req.header))
    this.service = req.service.typeName
    this.method = req.method.name
    this.streaming = req.stream
    this.header = req.header
    if (side === 'server') {
      this.#own = valuesOf(req)
      this.values = this.#own
      this.serverAddress = undefined
      this.serverPort = undefined
      this.attempt = 1
      this.resend = undefined
    } else {
      this.#own = undefined
      this.values = callerValues(req.contextValues) ?? NO_VALUES
      const target = serverOf(servers, req.url)
      this.serverAddress = target.address
      this.serverPort = target.port
      const { attempt, resend } = attemptOf(req.contextValues)
      this.attempt = attempt
      this.resend = resend
    }
  }

  set(key: string, value: unknown): void {
    if (this.#own !== undefined) this.#own[key] = value
  }

  settle(error: unknown): void {
    this.error = error
    // The code on the wire: Connect turns anything that is not a ConnectError into UNKNOWN.
    this.code = error === undefined ? 'OK' : (RPC_CODES[ConnectError.from(error).code] ?? 'UNKNOWN')
  }
}

const NO_VALUES: RequestValues = Object.freeze({})

interface ServerTarget {
  readonly address: string
  readonly port: number
}

/** Host and port of a call's URL. */
function serverOf(servers: Map<string, ServerTarget>, url: string): ServerTarget {
  const known = servers.get(url)
  if (known !== undefined) return known
  let found: ServerTarget
  try {
    const u = new URL(url)
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port)
    found = { address: host, port }
  } catch {
    found = { address: '', port: 0 }
  }
  if (servers.size >= 1000) servers.clear()
  servers.set(url, found)
  return found
}
