import type { Disposer, Events } from '@sturdy/core'

/**
 * One event hook over many policies of a kind (one per origin, created as origins are
 * first called: retries, hedges, limiters): observers subscribe once, at startup, and
 * hear every origin's events, each payload named after its origin. A policy is
 * subscribed to an event only while someone listens for it, so unobserved policies stay
 * on their fast path (a retry policy reads the clock for `attemptEnd` only when that
 * event has a listener).
 */
export class EventHub<M> implements Events<M> {
  readonly #sources = new Set<Events<M>>()
  readonly #listeners = new Map<keyof M, Set<(payload: never) => void>>()
  /** Per source and event, the forwarding subscription. */
  readonly #links = new Map<Events<M>, Map<keyof M, Disposer>>()

  on<K extends keyof M>(event: K, fn: (payload: M[K]) => void): Disposer {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
      for (const source of this.#sources) this.#link(source, event)
    }
    const listener = fn as (payload: never) => void
    set.add(listener)
    return () => {
      const current = this.#listeners.get(event)
      if (current === undefined || !current.delete(listener) || current.size > 0) return
      this.#listeners.delete(event)
      for (const links of this.#links.values()) {
        links.get(event)?.()
        links.delete(event)
      }
    }
  }

  /** Starts forwarding `source`'s events; returns a disposer that stops it. */
  add(source: Events<M>): Disposer {
    this.#sources.add(source)
    for (const event of this.#listeners.keys()) this.#link(source, event)
    return () => {
      this.#sources.delete(source)
      const links = this.#links.get(source)
      if (links === undefined) return
      for (const dispose of links.values()) dispose()
      this.#links.delete(source)
    }
  }

  #link(source: Events<M>, event: keyof M): void {
    let links = this.#links.get(source)
    if (links === undefined) {
      links = new Map()
      this.#links.set(source, links)
    }
    if (links.has(event)) return
    links.set(
      event,
      source.on(event, (payload) => {
        const set = this.#listeners.get(event)
        if (set === undefined) return
        for (const fn of set) {
          try {
            fn(payload as never)
          } catch {
            // Observers must not break the observed call.
          }
        }
      }),
    )
  }
}
