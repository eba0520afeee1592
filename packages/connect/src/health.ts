import type { ConnectRouter, HandlerContext, ServiceImpl } from '@connectrpc/connect'
import { Code, ConnectError } from '@connectrpc/connect'
import type { Disposer } from '@sturdy/core'
import type { HealthCheckRequest } from './gen/grpc/health/v1/health_pb.ts'
import { Health, HealthCheckResponse_ServingStatus } from './gen/grpc/health/v1/health_pb.ts'

/** The serving status of one service, as `grpc.health.v1` names it. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING'

/**
 * What the health service follows: `@sturdy/lifecycle`'s `Lifecycle` fits as it is
 * (its `state`, `subscribe()` and `probe()`), and so does anything with the same shape.
 */
export interface HealthSource {
  /** `serving` while the server takes traffic; anything else (`draining`, `stopped`) is NOT_SERVING. */
  readonly state: string
  /** Calls `listener` with every new state; returns a disposer. */
  subscribe(listener: (state: string) => void): Disposer
  /**
   * Runs the readiness checks: `Check` of the server (`""`) answers SERVING only when
   * this passes (status below 400). Optional.
   */
  probe?(kind: 'readiness'): Promise<{ readonly status: number }>
}

/** Options of `grpcHealth()`. */
export interface GrpcHealthOptions {
  /**
   * The readiness to follow (a `@sturdy/lifecycle` `Lifecycle`): from the first moment
   * of a drain, every service, `""` included, is NOT_SERVING, and `Watch` callers are
   * told at once.
   * @default undefined (only `setStatus` changes a status)
   */
  readiness?: HealthSource
  /**
   * The services the server knows, besides `""` (the whole server), with their initial
   * status. Any other name is NOT_FOUND in `Check` and SERVICE_UNKNOWN in `Watch`.
   * @default {}
   */
  services?: Readonly<Record<string, HealthStatus>>
}

/** The `grpc.health.v1.Health` service, ready to register on a `ConnectRouter`. */
export interface GrpcHealth {
  /**
   * Registers `grpc.health.v1.Health` on a router. The descriptor and its message types
   * stay internal: nothing else of the service is needed to serve it.
   */
  register(router: ConnectRouter): void
  /**
   * Sets a service's status (adding it when new); `""` is the whole server. While the
   * readiness source is not serving, every service reads NOT_SERVING regardless.
   */
  setStatus(service: string, status: HealthStatus): void
  /** The status `Check` would answer now, without readiness checks; undefined when unknown. */
  statusOf(service: string): HealthStatus | undefined
  /** Stops following the readiness source and ends every `Watch`. */
  close(): void
}

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus

/**
 * The standard gRPC health service (`grpc.health.v1.Health`, `Check` and `Watch`) that
 * Kubernetes' gRPC probes, `grpc_health_probe`, load balancers and grpc-js clients
 * speak, wired to the service's readiness:
 *
 * - `""` (the whole server) and every listed service are SERVING while the readiness
 *   source is serving and their own status says so; from the first moment of a drain
 *   all of them are NOT_SERVING, so balancers stop sending calls before the server
 *   stops taking them;
 * - `Check("")` also runs the readiness checks (`probe('readiness')`) when the source
 *   has them, so a lost database reads NOT_SERVING;
 * - an unknown service is NOT_FOUND in `Check` and SERVICE_UNKNOWN in `Watch`, which
 *   stays open (the service may be registered later), as the protocol requires;
 * - `Watch` sends the status at once, then every change, until the caller ends the call
 *   or the server drains to a stop.
 *
 * @param options readiness source and the services known
 * @returns the service, its implementation and `setStatus()`
 * @example
 * import { lifecycle } from '@sturdy/lifecycle'
 * import { grpcHealth } from '@sturdy/connect'
 *
 * const life = lifecycle()
 * const health = grpcHealth({ readiness: life, services: { 'acme.user.v1.UserService': 'SERVING' } })
 * const routes = (router: ConnectRouter) => {
 *   health.register(router)
 *   router.service(UserService, users)
 * }
 */
export function grpcHealth(options: GrpcHealthOptions = {}): GrpcHealth {
  return new HealthService(options)
}

class HealthService implements GrpcHealth {
  readonly #implementation: ServiceImpl<typeof Health>
  readonly #own = new Map<string, HealthStatus>([['', 'SERVING']])
  readonly #readiness: HealthSource | undefined
  readonly #watchers = new Set<Watcher>()
  readonly #unsubscribe: Disposer | undefined

  constructor(options: GrpcHealthOptions) {
    for (const [name, status] of Object.entries(options.services ?? {})) {
      this.#own.set(name, status)
    }
    this.#readiness = options.readiness
    this.#unsubscribe = this.#readiness?.subscribe(() => this.#notify())
    this.#implementation = {
      check: (req, ctx) => this.#check(req, ctx),
      watch: (req, ctx) => this.#watch(req, ctx),
    }
  }

  register(router: ConnectRouter): void {
    router.service(Health, this.#implementation)
  }

  setStatus(service: string, status: HealthStatus): void {
    if (status !== 'SERVING' && status !== 'NOT_SERVING') {
      throw new TypeError(`status must be SERVING or NOT_SERVING, got ${String(status)}`)
    }
    this.#own.set(service, status)
    this.#notify()
  }

  statusOf(service: string): HealthStatus | undefined {
    const own = this.#own.get(service)
    if (own === undefined) return undefined
    return this.#serving() ? own : 'NOT_SERVING'
  }

  close(): void {
    this.#unsubscribe?.()
    for (const w of [...this.#watchers]) w.end()
  }

  #serving(): boolean {
    return this.#readiness === undefined || this.#readiness.state === 'serving'
  }

  async #check(req: HealthCheckRequest, ctx: HandlerContext): Promise<{ status: number }> {
    const status = this.statusOf(req.service)
    if (status === undefined) {
      throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound)
    }
    if (status === 'NOT_SERVING') return { status: NOT_SERVING }
    const probe = this.#readiness?.probe
    if (req.service === '' && probe !== undefined) {
      const answer = await probe.call(this.#readiness, 'readiness')
      ctx.signal.throwIfAborted()
      // The source may have started draining while the checks ran: a drain always wins.
      return { status: answer.status < 400 && this.#serving() ? SERVING : NOT_SERVING }
    }
    return { status: SERVING }
  }

  async *#watch(
    req: HealthCheckRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<{ status: HealthCheckResponse_ServingStatus }> {
    const watcher = new Watcher(() => this.#wireStatus(req.service), ctx.signal)
    this.#watchers.add(watcher)
    try {
      yield* watcher.statuses()
    } finally {
      this.#watchers.delete(watcher)
      watcher.end()
    }
  }

  #wireStatus(service: string): HealthCheckResponse_ServingStatus {
    const status = this.statusOf(service)
    if (status === undefined) return SERVICE_UNKNOWN
    return status === 'SERVING' ? SERVING : NOT_SERVING
  }

  #notify(): void {
    for (const w of this.#watchers) w.wake()
  }
}

/** One `Watch` call: sends the current status, then each change, until it ends. */
class Watcher {
  readonly #read: () => HealthCheckResponse_ServingStatus
  readonly #signal: AbortSignal
  #wake: (() => void) | undefined
  #ended = false

  constructor(read: () => HealthCheckResponse_ServingStatus, signal: AbortSignal) {
    this.#read = read
    this.#signal = signal
  }

  async *statuses(): AsyncGenerator<{ status: HealthCheckResponse_ServingStatus }> {
    const onAbort = (): void => this.end()
    this.#signal.addEventListener('abort', onAbort)
    try {
      let last: HealthCheckResponse_ServingStatus | undefined
      while (!this.#ended && !this.#signal.aborted) {
        const status = this.#read()
        if (status !== last) {
          last = status
          yield { status }
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
      }
    } finally {
      this.#signal.removeEventListener('abort', onAbort)
    }
  }

  wake(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  end(): void {
    this.#ended = true
    this.wake()
  }
}
