/**
 * @module
 * Test helpers for draining services: a keep-alive load generator that behaves like
 * clients behind a Kubernetes Service. Each client keeps one HTTP/1.1 keep-alive
 * connection and sends requests back to back. A new connection goes to the target
 * while the target is "in rotation", else to the fallback (the rest of the fleet); an
 * endpoint controller polls the target's readiness probe and takes it out of rotation
 * when it stops answering 200 — what kube-proxy and the endpoints controller do. An
 * open connection keeps going to the server it was opened to until that server closes
 * it, exactly as with conntrack. Without a fallback every client stays on the target
 * (like `wrk`).
 */
import type { IncomingMessage } from 'node:http'
import { Agent, request } from 'node:http'

/** Options of `keepAliveLoad()`. */
export interface LoadOptions {
  /** Base URL of the server under test, e.g. `http://127.0.0.1:3000`. */
  target: string
  /**
   * Base URL new connections go to once the target is out of rotation. Without it,
   * clients keep hitting the target (and see refused connections after it stops).
   * @default undefined
   */
  fallback?: string
  /** @default 50 */
  clients?: number
  /** @default '/' */
  path?: string
  /**
   * Readiness path the endpoint controller polls on the target.
   * @default '/readyz'
   */
  readinessPath?: string
  /** @default 20 */
  probeIntervalMs?: number
}

/** One request that did not end with a complete response. */
export interface LoadFailure {
  /** `refused`: no connection was made. `reset`: the connection broke mid-request. */
  readonly kind: 'refused' | 'reset' | 'other'
  readonly code: string
  /** `performance.now()` when the request was sent. */
  readonly sentAt: number
  /** `performance.now()` when it failed. */
  readonly failedAt: number
  /** Whether it went to the target (else to the fallback). */
  readonly toTarget: boolean
}

/** What the clients saw. */
export interface LoadResult {
  /** Requests sent. */
  readonly sent: number
  /** Complete responses (status line, headers, whole body), by status. */
  readonly completed: Readonly<Record<number, number>>
  /** Complete responses from the target. */
  readonly fromTarget: number
  /** Complete responses from the fallback. */
  readonly fromFallback: number
  /** Responses from the target carrying `Connection: close`. */
  readonly connectionClose: number
  /** When the endpoint controller took the target out of rotation (`performance.now()`). */
  readonly outOfRotationAt: number | undefined
  readonly failures: readonly LoadFailure[]
}

/** A running load. */
export interface Load {
  /** Resolves once at least `count` complete responses came back from the target. */
  untilTargetServed(count: number): Promise<void>
  /** Stops sending, waits for the requests in flight, closes every connection. */
  stop(): Promise<LoadResult>
}

/**
 * Starts `clients` concurrent keep-alive clients. Every request's outcome is recorded;
 * nothing is retried.
 *
 * @param options target, fallback, clients, path, readiness polling
 * @returns the running load; `stop()` returns what the clients saw
 * @example
 * const load = keepAliveLoad({ target, fallback, clients: 50 })
 * await load.untilTargetServed(200)
 * await life.drain()
 * const result = await load.stop()
 * expect(result.failures).toEqual([])
 */
export function keepAliveLoad(options: LoadOptions): Load {
  const clients = options.clients ?? 50
  const path = options.path ?? '/'
  const fallback = options.fallback
  const agents: Agent[] = []
  const completed: Record<number, number> = {}
  const failures: LoadFailure[] = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  let sent = 0
  let fromTarget = 0
  let fromFallback = 0
  let connectionClose = 0
  let inRotation = true
  let outOfRotationAt: number | undefined
  let running = true

  const probe = fallback === undefined ? undefined : pollReadiness()
  const loops = Array.from({ length: clients }, () => clientLoop())

  async function clientLoop(): Promise<void> {
    const toTargetAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const toFallbackAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(toTargetAgent, toFallbackAgent)
    let onTarget = true
    while (running) {
      const sentAt = performance.now()
      sent++
      const outcome = await send(
        (onTarget ? options.target : (fallback as string)) + path,
        onTarget ? toTargetAgent : toFallbackAgent,
      )
      if (outcome.kind === 'ok') {
        completed[outcome.status] = (completed[outcome.status] ?? 0) + 1
        if (onTarget) {
          fromTarget++
          if (outcome.close) connectionClose++
          for (const w of [...waiters]) {
            if (fromTarget >= w.count) {
              waiters.splice(waiters.indexOf(w), 1)
              w.resolve()
            }
          }
        } else fromFallback++
      } else {
        failures.push({
          kind: outcome.kind,
          code: outcome.code,
          sentAt,
          failedAt: performance.now(),
          toTarget: onTarget,
        })
        // Do not spin on a refused port.
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      // The connection is gone (closed by the server, or broken): a new one goes where
      // the Service routes it.
      if (outcome.kind !== 'ok' || outcome.close) onTarget = fallback === undefined || inRotation
    }
  }

  async function pollReadiness(): Promise<void> {
    const agent = new Agent({ keepAlive: false })
    agents.push(agent)
    while (running && inRotation) {
      const outcome = await send(options.target + (options.readinessPath ?? '/readyz'), agent)
      if (outcome.kind !== 'ok' || outcome.status !== 200) {
        inRotation = false
        outOfRotationAt = performance.now()
        return
      }
      await new Promise((resolve) => setTimeout(resolve, options.probeIntervalMs ?? 20))
    }
  }

  return {
    untilTargetServed(count) {
      if (fromTarget >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ count, resolve }))
    },
    async stop() {
      running = false
      await Promise.all([...loops, probe])
      for (const agent of agents) agent.destroy()
      return {
        sent,
        completed,
        fromTarget,
        fromFallback,
        connectionClose,
        outOfRotationAt,
        failures,
      }
    },
  }
}

type Outcome =
  | { kind: 'ok'; status: number; close: boolean }
  | { kind: 'refused' | 'reset' | 'other'; code: string }

function send(url: string, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false
    const done = (outcome: Outcome): void => {
      if (settled) return
      settled = true
      resolve(outcome)
    }
    const failed = (error: NodeJS.ErrnoException): void => {
      const code = error.code ?? error.message
      done({
        kind:
          code === 'ECONNREFUSED'
            ? 'refused'
            : code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED'
              ? 'reset'
              : 'other',
        code,
      })
    }
    const req = request(url, { agent }, (res: IncomingMessage) => {
      res.on('data', () => {})
      res.on('error', failed)
      res.on('aborted', () => failed(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })))
      res.on('end', () => {
        if (!res.complete) {
          failed(Object.assign(new Error('truncated'), { code: 'ECONNRESET' }))
          return
        }
        done({ kind: 'ok', status: res.statusCode ?? 0, close: res.headers.connection === 'close' })
      })
    })
    req.on('error', failed)
    req.end()
  })
}
