/**
 * Three server processes share breaker state through one real Redis: failures through
 * one replica trip its breaker, and the other two open within the stated bound (2 s;
 * pub/sub delivers in milliseconds) without calling the failing dependency once.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import type { Replicas } from '../../../scripts/replicas.ts'
import { startReplicas } from '../../../scripts/replicas.ts'
import { describeRedis } from './testing.ts'

const REPLICA = fileURLToPath(new URL('./scale-out-replica.ts', import.meta.url))
const BOUND_MS = 2000

interface State {
  state: string
  dependencyCalls: number
}

const state = async (url: string): Promise<State> =>
  (await fetch(`${url}/state`)).json() as Promise<State>

describeRedis('three replicas sharing breaker state through one Redis', () => {
  let redis: RedisServer
  let replicas: Replicas
  beforeAll(async () => {
    redis = await startRedisServer()
    replicas = await startReplicas(REPLICA, 3, { REDIS_URL: redis.url })
    // The subscriber connections come up just after the servers listen.
    await new Promise((resolve) => setTimeout(resolve, 300))
  }, 120_000)
  afterAll(async () => {
    await replicas?.stop()
    await redis?.stop()
  })

  it(`a breaker tripped through one replica opens on the other two within ${BOUND_MS} ms`, async () => {
    const [first, ...others] = replicas.urls as [string, ...string[]]
    for (let i = 0; i < 3; i++) expect((await fetch(`${first}/pay?fail=1`)).status).toBe(502)
    expect((await state(first)).state).toBe('open')
    const start = performance.now()
    let states: State[] = []
    while (performance.now() - start < BOUND_MS) {
      states = await Promise.all(others.map(state))
      if (states.every((s) => s.state === 'open')) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(states.map((s) => s.state)).toEqual(['open', 'open'])
    // They fail fast without having spent a single failure of their own.
    for (const url of others) {
      const res = await fetch(`${url}/pay`)
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({ code: 'BROKEN_CIRCUIT' })
    }
    expect((await Promise.all(others.map(state))).map((s) => s.dependencyCalls)).toEqual([0, 0])
  }, 120_000)
})
