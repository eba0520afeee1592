/** A function that undoes a subscription. Calling it twice is harmless. */
export type Disposer = () => void

/** Subscribe side of a typed event hook. */
export interface Events<M> {
  /** Calls `fn` for every `event`; returns a disposer that unsubscribes. */
  on<K extends keyof M>(event: K, fn: (payload: M[K]) => void): Disposer
}

/** A typed event hook a policy owns: it emits, subscribers listen. */
export interface Emitter<M> extends Events<M> {
  /** Delivers `payload` to the listeners of `event`, synchronously. */
  emit<K extends keyof M>(event: K, payload: M[K]): void
  /** True when `event` has a listener: lets emitters skip building payloads. */
  has(event: keyof M): boolean
}

/**
 * Creates a typed event hook. A listener that throws is isolated: the error is
 * dropped so an observer can never break the call it observes.
 *
 * @example
 * const events = createEmitter<{ retry: { attempt: number } }>()
 * const off = events.on('retry', (e) => console.log(e.attempt))
 * events.emit('retry', { attempt: 2 })
 * off()
 */
export function createEmitter<M>(): Emitter<M> {
  const listeners = new Map<keyof M, Array<(payload: never) => void>>()
  return {
    on(event, fn) {
      // Copy-on-write keeps `emit` safe when a listener unsubscribes while it runs.
      listeners.set(event, [...(listeners.get(event) ?? []), fn as (payload: never) => void])
      let live = true
      return () => {
        if (!live) return
        live = false
        const rest = (listeners.get(event) ?? []).filter((l) => l !== fn)
        if (rest.length === 0) listeners.delete(event)
        else listeners.set(event, rest)
      }
    },
    emit(event, payload) {
      const list = listeners.get(event)
      if (list === undefined) return
      for (const fn of list) {
        try {
          ;(fn as (p: typeof payload) => void)(payload)
        } catch {
          // Observers must not break the observed call.
        }
      }
    },
    // Hot paths ask this several times per call, nearly always of an emitter nobody
    // listens to: the size check skips hashing the event name.
    has: (event) => listeners.size !== 0 && listeners.has(event),
  }
}
