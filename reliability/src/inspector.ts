/**
 * Measures a service process from the inside, through the V8 inspector it was started
 * with (`--inspect=127.0.0.1:<port> --expose-gc` in NODE_OPTIONS): no code of the app's
 * own, nothing the app could get wrong about itself. Loopback only.
 */
import { WebSocket } from 'undici'

/** What a process holds after two full garbage collections. */
export interface ProcessSnapshot {
  heapUsedBytes: number
  rssBytes: number
  /** `process.getActiveResourcesInfo()` by type: TCPSocketWrap, TCPServerWrap, Timeout... */
  resources: Record<string, number>
  /** Listeners on every live EventEmitter (sockets, servers, streams, the app's emitters). */
  emitterListeners: number
  /** Live AbortSignals, and the `abort` listeners on them. */
  abortSignals: number
  abortListeners: number
}

/** A connection to a process's inspector. */
export interface Inspector {
  snapshot(): Promise<ProcessSnapshot>
  close(): void
}

interface Reply {
  id: number
  result?: Record<string, unknown>
  error?: { message: string }
}

/** Connects to the inspector listening on `port` (bounded: 10 s). */
export async function connectInspector(port: number): Promise<Inspector> {
  const deadline = Date.now() + 10_000
  let url: string | undefined
  while (url === undefined) {
    try {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
        webSocketDebuggerUrl: string
      }>
      url = targets[0]?.webSocketDebuggerUrl
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true })
    ws.addEventListener('error', () => reject(new Error(`inspector ${url} refused`)), {
      once: true,
    })
  })
  let next = 0
  const pending = new Map<number, (reply: Reply) => void>()
  ws.addEventListener('message', (event) => {
    const reply = JSON.parse(String(event.data)) as Reply
    pending.get(reply.id)?.(reply)
    pending.delete(reply.id)
  })
  const call = (method: string, params: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++next
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`inspector ${method}: no answer within 30 s`))
      }, 30_000)
      pending.set(id, (reply) => {
        clearTimeout(timer)
        if (reply.error !== undefined) reject(new Error(`${method}: ${reply.error.message}`))
        else resolve(reply.result ?? {})
      })
      ws.send(JSON.stringify({ id, method, params }))
    })
  const value = async <T>(expression: string): Promise<T> => {
    const r = await call('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
      includeCommandLineAPI: false,
    })
    if (r.exceptionDetails !== undefined) throw new Error(JSON.stringify(r.exceptionDetails))
    return (r.result as { value: T }).value
  }
  // Every live object whose prototype chain holds `prototype`, reduced in the process.
  const overInstances = async (prototype: string, reduce: string): Promise<number> => {
    const group = 'reliability'
    const proto = (await call('Runtime.evaluate', { expression: prototype, objectGroup: group }))
      .result as { objectId: string }
    const found = (await call('Runtime.queryObjects', {
      prototypeObjectId: proto.objectId,
      objectGroup: group,
    })) as { objects: { objectId: string } }
    const r = await call('Runtime.callFunctionOn', {
      objectId: found.objects.objectId,
      functionDeclaration: reduce,
      returnByValue: true,
      objectGroup: group,
    })
    await call('Runtime.releaseObjectGroup', { objectGroup: group })
    if (r.exceptionDetails !== undefined) throw new Error(JSON.stringify(r.exceptionDetails))
    return (r.result as { value: number }).value
  }

  return {
    async snapshot() {
      const base = await value<
        Omit<ProcessSnapshot, 'emitterListeners' | 'abortSignals' | 'abortListeners'>
      >(`(async () => {
        for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)) }
        const m = process.memoryUsage()
        const resources = {}
        for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1
        return { heapUsedBytes: m.heapUsed, rssBytes: m.rss, resources }
      })()`)
      const emitterListeners = await overInstances(
        `process.getBuiltinModule('node:events').EventEmitter.prototype`,
        // Objects that only inherit from EventEmitter.prototype without being set up (a
        // prototype object itself) have no listener table: skipped.
        `function () { let n = 0; for (const e of this) { try { for (const k of e.eventNames()) { const c = e.listenerCount(k); if (Number.isFinite(c)) n += c } } catch {} } return n }`,
      )
      const abortSignals = await overInstances(
        'AbortSignal.prototype',
        'function () { return this.length }',
      )
      const abortListeners = await overInstances(
        'AbortSignal.prototype',
        `function () { const { getEventListeners } = process.getBuiltinModule('node:events'); let n = 0; for (const s of this) n += getEventListeners(s, 'abort').length; return n }`,
      )
      return { ...base, emitterListeners, abortSignals, abortListeners }
    },
    close() {
      ws.close()
    },
  }
}
