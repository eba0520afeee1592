import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { BreakerStateStore, SharedCounts, SharedTransition } from './shared-state.ts'

/**
 * The Redis commands the breaker store needs, so any client can be plugged in.
 * `ioredisBreakerClient` adapts ioredis (the tested client).
 */
export interface BreakerRedisClient {
  /** `EVAL script numkeys ...keys ...args`. */
  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>
  /**
   * Subscribes to `channel` (on a connection of its own: a subscribed Redis connection
   * takes no other command); resolves with a function that unsubscribes.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => void>
}

/** The part of an ioredis client (v5 or later) the adapter calls. */
export interface IoredisBreakerLike {
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  duplicate(override?: { enableOfflineQueue?: boolean }): IoredisSubscriberLike
}

/** The part of an ioredis subscriber connection the adapter calls. */
export interface IoredisSubscriberLike {
  subscribe(channel: string): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  on(event: 'message', fn: (channel: string, message: string) => void): unknown
  on(event: 'error', fn: (error: unknown) => void): unknown
  disconnect(): void
}

/**
 * Adapts an ioredis client; subscriptions go through one `duplicate()` connection,
 * opened on first use (it reconnects and resubscribes by itself). Transitions published
 * while the main connection is down are lost, and the replicas stay on local state.
 *
 * @param redis an ioredis `Redis`
 * @returns the client `redisBreakerStore` uses
 * @example
 * import { Redis } from 'ioredis'
 * import { ioredisBreakerClient, redisBreakerStore } from '@sturdy/breaker'
 *
 * const shared = redisBreakerStore({ client: ioredisBreakerClient(new Redis('redis://127.0.0.1:6379')) })
 */
export function ioredisBreakerClient(redis: IoredisBreakerLike): BreakerRedisClient {
  let subscriber: IoredisSubscriberLike | undefined
  const handlers = new Map<string, Set<(message: string) => void>>()
  return {
    eval: (script, keys, args) => redis.eval(script, keys.length, ...keys, ...args),
    async subscribe(channel, onMessage) {
      if (subscriber === undefined) {
        // Queue the SUBSCRIBE until the new connection is up, whatever the main one says.
        subscriber = redis.duplicate({ enableOfflineQueue: true })
        subscriber.on('error', () => {
          // Reconnecting: the breakers keep deciding locally meanwhile.
        })
        subscriber.on('message', (ch, message) => {
          for (const fn of handlers.get(ch) ?? []) fn(message)
        })
      }
      let set = handlers.get(channel)
      if (set === undefined) {
        set = new Set()
        handlers.set(channel, set)
        await subscriber.subscribe(channel)
      }
      set.add(onMessage)
      return () => {
        set.delete(onMessage)
        if (set.size > 0) return
        handlers.delete(channel)
        if (handlers.size === 0) {
          subscriber?.disconnect()
          subscriber = undefined
        } else {
          subscriber?.unsubscribe(channel).catch(() => {})
        }
      }
    },
  }
}

/** Options of `redisBreakerStore`. */
export interface RedisBreakerStoreOptions {
  /** The Redis connection, through an adapter (see `ioredisBreakerClient`). */
  client: BreakerRedisClient
  /** Prefix of every key and of the channel. @default 'sturdy:cb:' */
  prefix?: string
  /**
   * How long a replica waits for the probe lease before it probes on its own (Redis slow
   * or down). @default 1000
   */
  timeoutMs?: number
  /** Time source for that timeout. @default systemClock */
  clock?: Clock
}

/**
 * Shares breaker state through Redis, without a lock around any call (gobreaker v2 holds
 * one across every call). A transition is one Lua script: it takes the next epoch of the
 * breaker (`INCR`), remembers it as the breaker's state (with a key that expires with an
 * open period, so a replica that starts late or missed the message joins it for what is
 * left), and `PUBLISH`es it on one channel that every replica subscribes to. The
 * half-open probe lease is `SET NX PX` on a key of the epoch. Merged counts go to one
 * hash per breaker: `HINCRBY` per bucket of Redis's own clock (`TIME`), with an expiry of
 * one window. A breaker's keys share a hash tag (`{name}`), so this works on Redis
 * Cluster. Redis down or slow: publishing fails quietly, a lease that does not come within
 * `timeoutMs` is taken as granted, so every replica goes on with local state.
 *
 * Keys per breaker name: the epoch and the state stay (a few bytes each, so an epoch is
 * never reused); the open marker, probe leases and counts expire.
 *
 * @param options see `RedisBreakerStoreOptions`
 * @returns the store, for `circuitBreaker({ shared })` or `keyedBreaker({ breaker: { shared } })`
 * @example
 * import { Redis } from 'ioredis'
 * import { circuitBreaker, ioredisBreakerClient, redisBreakerStore } from '@sturdy/breaker'
 *
 * const shared = redisBreakerStore({ client: ioredisBreakerClient(new Redis('redis://127.0.0.1:6379')) })
 * const payments = circuitBreaker({ name: 'payments', failureRatio: 0.5, shared })
 */
export function redisBreakerStore(options: RedisBreakerStoreOptions): BreakerStateStore {
  const { client } = options
  if (typeof client?.eval !== 'function' || typeof client.subscribe !== 'function') {
    throw new TypeError(
      'redisBreakerStore needs a client: redisBreakerStore({ client: ioredisBreakerClient(redis) })',
    )
  }
  const prefix = options.prefix ?? 'sturdy:cb:'
  const timeoutMs = options.timeoutMs ?? 1000
  const clock = options.clock ?? systemClock
  const channel = `${prefix}events`
  const key = (name: string, what: string): string => `${prefix}{${name}}:${what}`
  const listeners = new Map<string, Set<(t: SharedTransition) => void>>()
  let unsubscribe: Promise<(() => void) | undefined> | undefined

  const deliver = (message: string): void => {
    const t = parse(message)
    if (t === undefined) return
    for (const fn of listeners.get(t.name) ?? []) fn(t)
  }

  const store: BreakerStateStore = {
    async publish(t, provisional) {
      const payload = JSON.stringify({
        name: t.name,
        state: t.state,
        openRemainingMs: Math.max(0, Math.round(t.openRemainingMs)),
        origin: t.origin,
        manual: t.manual === true,
      })
      const epoch = await client.eval(
        PUBLISH,
        [key(t.name, 'epoch'), key(t.name, 'state'), key(t.name, 'open')],
        [
          channel,
          payload,
          String(provisional),
          t.state,
          String(Math.max(1, Math.round(t.openRemainingMs))),
        ],
      )
      return Number(epoch)
    },
    subscribe(name, fn) {
      let set = listeners.get(name)
      if (set === undefined) {
        set = new Set()
        listeners.set(name, set)
      }
      set.add(fn)
      unsubscribe ??= client.subscribe(channel, deliver).catch(() => {
        unsubscribe = undefined // try again with the next subscriber
        return undefined
      })
      let live = true
      // Once subscribed, replay the state in force (a few tries: the connection may still
      // be coming up). A transition published meanwhile arrives on the channel anyway.
      const replay = (tries: number): void => {
        store.current(name).then(
          (t) => {
            if (live && t !== undefined) fn(t)
          },
          () => {
            if (live && tries > 1) clock.setTimeout(() => replay(tries - 1), 250)
          },
        )
      }
      unsubscribe.then(
        () => replay(5),
        () => {},
      )
      return () => {
        live = false
        set.delete(fn)
        if (set.size === 0) listeners.delete(name)
        if (listeners.size === 0 && unsubscribe !== undefined) {
          const pending = unsubscribe
          unsubscribe = undefined
          pending.then(
            (off) => off?.(),
            () => {},
          )
        }
      }
    },
    async current(name) {
      const reply = await client.eval(CURRENT, [key(name, 'state'), key(name, 'open')], [])
      if (!Array.isArray(reply) || typeof reply[0] !== 'string') return undefined
      const t = parse(reply[0])
      if (t === undefined) return undefined
      // The marker expires with the open period: what is left of it is what is left to wait.
      return { ...t, openRemainingMs: t.state === 'open' ? Math.max(0, Number(reply[1])) : 0 }
    },
    async addCounts(name, r) {
      const reply = await client.eval(
        COUNTS,
        [key(name, 'epoch'), key(name, 'counts')],
        [r.epoch, r.successes, r.failures, r.slowCalls, r.bucketMs, r.buckets].map((n) =>
          String(Math.max(0, Math.round(n))),
        ),
      )
      return parseCounts(reply)
    },
    acquireProbe(name, epoch, origin, ttlMs) {
      const call = client.eval(
        PROBE,
        [key(name, `probe:${epoch}`)],
        [origin, String(Math.max(1, Math.round(ttlMs)))],
      )
      return withTimeout(
        call.then((r) => Number(r) === 1),
        timeoutMs,
        clock,
      )
    },
  }
  return store
}

/**
 * KEYS = epoch, state, open marker; ARGV = channel, payload (JSON without the epoch),
 * provisional epoch, state, open ms. Replies with the epoch given.
 */
const PUBLISH = `
local epoch = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[3])
if epoch < floor then
  redis.call('SET', KEYS[1], floor)
  epoch = floor
end
local message = epoch .. '|' .. ARGV[2]
redis.call('SET', KEYS[2], message)
if ARGV[4] == 'open' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[3])
end
redis.call('PUBLISH', ARGV[1], message)
return epoch
`

/** KEYS = state, open marker; replies { message, ms of the open period left } or nil. */
const CURRENT = `
local message = redis.call('GET', KEYS[1])
if not message then return nil end
local left = redis.call('PTTL', KEYS[2])
if left < 0 then left = 0 end
return {message, left}
`

/**
 * KEYS = epoch, counts hash; ARGV = the report's epoch, successes, failures, slow calls,
 * bucket ms, buckets. The hash holds the epoch it counts for and fields \`s|f|w:bucket\`,
 * buckets numbered on Redis's clock so replicas agree on them whatever their own clocks
 * say. Replies { epoch, successes, failures, slow calls } over the window.
 */
const COUNTS = `
local epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(ARGV[1])
if mine < epoch then return {epoch, 0, 0, 0} end
if mine > epoch then
  redis.call('SET', KEYS[1], mine)
  epoch = mine
end
local bucketMs = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local time = redis.call('TIME')
local bucket = math.floor((tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)) / bucketMs)
if tonumber(redis.call('HGET', KEYS[2], 'epoch') or '-1') ~= epoch then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'epoch', epoch)
end
local kinds = {'s', 'f', 'w'}
for i = 1, 3 do
  local delta = tonumber(ARGV[i + 1])
  if delta > 0 then redis.call('HINCRBY', KEYS[2], kinds[i] .. ':' .. bucket, delta) end
end
local sums = {s = 0, f = 0, w = 0}
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  local field = fields[i]
  if field ~= 'epoch' then
    local at = tonumber(string.sub(field, 3))
    if at <= bucket - n then
      redis.call('HDEL', KEYS[2], field)
    elseif at <= bucket then
      local kind = string.sub(field, 1, 1)
      sums[kind] = sums[kind] + tonumber(fields[i + 1])
    end
  end
end
redis.call('PEXPIRE', KEYS[2], (n + 1) * bucketMs)
return {epoch, sums.s, sums.f, sums.w}
`

/** KEYS = lease key; ARGV = origin, ttl. 1 when the lease is (already) this origin's. */
const PROBE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`

function parseCounts(reply: unknown): SharedCounts {
  const [epoch, successes, failures, slowCalls] = Array.isArray(reply)
    ? reply.map(Number)
    : [Number.NaN]
  if (![epoch, successes, failures, slowCalls].every(Number.isFinite)) {
    throw new Error(`unexpected reply to the counts script: ${JSON.stringify(reply)}`)
  }
  return {
    epoch: epoch as number,
    successes: successes as number,
    failures: failures as number,
    slowCalls: slowCalls as number,
  }
}

function parse(message: string): SharedTransition | undefined {
  const bar = message.indexOf('|')
  if (bar < 1) return undefined
  const epoch = Number(message.slice(0, bar))
  try {
    const body = JSON.parse(message.slice(bar + 1)) as Partial<SharedTransition>
    if (
      !Number.isFinite(epoch) ||
      typeof body.name !== 'string' ||
      (body.state !== 'open' && body.state !== 'closed' && body.state !== 'isolated') ||
      typeof body.origin !== 'string'
    ) {
      return undefined
    }
    return {
      name: body.name,
      state: body.state,
      epoch,
      openRemainingMs: Number(body.openRemainingMs) || 0,
      origin: body.origin,
      manual: body.manual === true,
    }
  } catch {
    return undefined
  }
}

/** `promise`, or a rejection after `ms` (the timer does not keep the process alive). */
function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(
      () => reject(new Error(`Redis did not answer within ${ms} ms`)),
      ms,
    )
    promise.then(
      (value) => {
        clock.clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clock.clearTimeout(timer)
        reject(error)
      },
    )
  })
}
