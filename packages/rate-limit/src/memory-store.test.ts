import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import { memoryStore } from './memory-store.ts'
import { rateLimiter } from './rate-limiter.ts'
import { slidingWindow } from './sliding-window.ts'
import { tokenBucket } from './token-bucket.ts'

describe('memoryStore', () => {
  it('keeps at most maxKeys keys, forgetting the least recently used', () => {
    const clock = manualClock()
    const store = memoryStore({ maxKeys: 3, clock })
    const algorithm = slidingWindow({ limit: 1, windowMs: 60_000 })
    for (const key of ['a', 'b', 'c']) expect(store.consume(key, algorithm, 1).allowed).toBe(true)
    // touch a: b is now the least recently used
    expect(store.consume('a', algorithm, 1).allowed).toBe(false)
    store.consume('d', algorithm, 1)
    expect(store.size).toBe(3)
    expect(store.consume('a', algorithm, 1).allowed).toBe(false)
    expect(store.consume('c', algorithm, 1).allowed).toBe(false)
    // b was forgotten, so it starts afresh
    expect(store.consume('b', algorithm, 1).allowed).toBe(true)
  })

  it('drops a key as soon as its state is back to full', () => {
    const clock = manualClock()
    const store = memoryStore({ clock })
    const bucket = tokenBucket({ limit: 10, windowMs: 1000 })
    store.consume('k', bucket, 1)
    expect(store.size).toBe(1)
    clock.advance(100)
    store.consume('k', bucket, 0)
    expect(store.size).toBe(0)
    const window = slidingWindow({ limit: 10, windowMs: 1000 })
    store.consume('k', window, 1)
    clock.advance(2000)
    store.consume('k', window, 0)
    expect(store.size).toBe(0)
  })

  it('limiters sharing it keep apart by name and by algorithm', () => {
    const clock = manualClock()
    const store = memoryStore({ clock })
    const one = { limit: 1, windowMs: 1000 }
    const limiters = [
      rateLimiter({ name: 'a', algorithm: tokenBucket(one), store, clock }),
      rateLimiter({ name: 'a', algorithm: slidingWindow(one), store, clock }),
      rateLimiter({ name: 'b', algorithm: slidingWindow(one), store, clock }),
    ]
    for (const limiter of limiters) expect(limiter.consume('k')).toMatchObject({ allowed: true })
    for (const limiter of limiters) expect(limiter.consume('k')).toMatchObject({ allowed: false })
    expect(store.size).toBe(3)
  })

  it('rejects a bad bound', () => {
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(/maxKeys/)
  })

  it('imports nothing from node: anywhere in its import graph (it runs on Bun, Deno, workers)', () => {
    const here = dirname(fileURLToPath(import.meta.url))
    const seen = new Set<string>()
    const bare = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      const source = readFileSync(file, 'utf8')
      for (const m of source.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        const spec = m[1] as string
        if (spec.startsWith('.')) visit(join(dirname(file), spec))
        else bare.add(spec)
      }
    }
    visit(join(here, 'index.ts'))
    expect(seen.has(join(here, 'memory-store.ts'))).toBe(true)
    // The whole package, not only the memory store: only @sturdy/core, itself web-standard.
    expect([...bare]).toEqual(['@sturdy/core'])
    const core = join(here, '../../core/src')
    seen.clear()
    bare.clear()
    visit(join(core, 'index.ts'))
    expect([...bare]).toEqual([])
  })
})
