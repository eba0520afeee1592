import type { Clock, RpcCall, RpcInterceptor } from '@sturdy/core'
import { rpcMethodName, systemClock } from '@sturdy/core'
import type { Histogram } from 'prom-client'
import { boundedLabel, OVERFLOW_VALUE } from './bounded-label.ts'
import { SEMCONV_DURATION_BUCKETS } from './buckets.ts'
import type { AnyRegistry } from './instruments.ts'
import { histogramOn, privateRegistry } from './instruments.ts'

/** Options of `rpcMetrics()`. */
export interface RpcMetricsOptions {
  /** Where the metrics live. @default a new private `Registry`, exposed as `.registry` */
  registry?: AnyRegistry
  /** Histogram bucket boundaries in seconds. @default SEMCONV_DURATION_BUCKETS */
  buckets?: readonly number[]
  /** Distinct `rpc_method` values kept; later ones share `__other__`. @default 200 */
  maxMethods?: number
  /** Distinct servers (client side) with series of their own; later ones share `__other__`. @default 50 */
  maxServers?: number
  /** Time source. @default systemClock */
  clock?: Clock
}

/** The RPC observer, with the registry it records into. */
export type RpcMetricsInterceptor = RpcInterceptor & {
  /** The registry the metrics live in. */
  readonly registry: AnyRegistry
}

const SERVER_LABELS = ['rpc_system_name', 'rpc_method', 'rpc_response_status_code'] as const
const CLIENT_LABELS = [...SERVER_LABELS, 'server_address', 'server_port'] as const

type Observer = { observe(value: number): void }

/**
 * An RPC observer (mount it with `@sturdy/connect`'s `serverObservers()` /
 * `clientObservers()`) recording the OpenTelemetry RPC duration metrics under their
 * Prometheus names: `rpc_server_call_duration_seconds` for calls served and
 * `rpc_client_call_duration_seconds` for each outgoing attempt, from the call's start to
 * its last message.
 *
 * Labels, all bounded: `rpc_system_name` (`grpc` or `connectrpc`), `rpc_method`
 * (`pkg.Service/Method`; the first `maxMethods`, then `__other__`),
 * `rpc_response_status_code` (`OK`, `DEADLINE_EXCEEDED`, ...: 17 values) and, on the
 * client, `server_address` and `server_port` (the first `maxServers`, then `__other__`).
 *
 * @param options registry, buckets, label bounds, clock
 * @returns the observer, with `.registry`
 * @example
 * import { Registry } from 'prom-client'
 * import { serverObservers } from '@sturdy/connect'
 * import { rpcMetrics } from '@sturdy/metrics'
 *
 * const registry = new Registry()
 * connectNodeAdapter({ routes, interceptors: [serverObservers(rpcMetrics({ registry }))] })
 */
export function rpcMetrics(options: RpcMetricsOptions = {}): RpcMetricsInterceptor {
  const registry = options.registry ?? privateRegistry()
  const buckets = options.buckets ?? SEMCONV_DURATION_BUCKETS
  const clock = options.clock ?? systemClock
  const server = histogramOn(registry, {
    name: 'rpc_server_call_duration_seconds',
    help: 'Duration of RPCs served, to the last message (OpenTelemetry rpc.server.call.duration).',
    labelNames: SERVER_LABELS,
    buckets,
    exemplars: false,
  }) as Histogram<(typeof CLIENT_LABELS)[number]>
  const client = histogramOn(registry, {
    name: 'rpc_client_call_duration_seconds',
    help: 'Duration of outgoing RPC attempts, to the last message (OpenTelemetry rpc.client.call.duration).',
    labelNames: CLIENT_LABELS,
    buckets,
    exemplars: false,
  }) as Histogram<(typeof CLIENT_LABELS)[number]>
  const method = boundedLabel({ maxValues: options.maxMethods ?? 200 })
  const target = boundedLabel({ maxValues: options.maxServers ?? 50 })
  const children = new Map<string, Observer>()

  const childFor = (call: RpcCall): Observer => {
    const name = method(rpcMethodName(call))
    const isClient = call.side === 'client'
    const address = isClient ? target(`${call.serverAddress}:${call.serverPort}`) : ''
    const key = `${call.side}\n${call.system}\n${name}\n${call.code}\n${address}`
    let child = children.get(key)
    if (child !== undefined) return child
    const labels = {
      rpc_system_name: call.system,
      rpc_method: name,
      rpc_response_status_code: call.code,
    }
    if (!isClient) child = server.labels(labels)
    else {
      const overflow = address === OVERFLOW_VALUE
      child = client.labels({
        ...labels,
        server_address: overflow ? OVERFLOW_VALUE : (call.serverAddress ?? ''),
        server_port: overflow ? '' : String(call.serverPort ?? ''),
      })
    }
    children.set(key, child)
    return child
  }

  const observer = async function recordRpcMetrics(call: RpcCall, next: () => Promise<void>) {
    const started = clock.now()
    try {
      await next()
    } finally {
      childFor(call).observe((clock.now() - started) / 1000)
    }
  }
  return Object.assign(observer, { registry })
}
