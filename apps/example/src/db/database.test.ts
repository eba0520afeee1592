import { rmSync } from 'node:fs'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { idempotencyStore } from '../gateway/idempotency.ts'
import type { Postgres } from '../testing.ts'
import { copyDataDir, startPostgres } from '../testing.ts'
import { EmailTakenError, userRepository } from '../users/repository.ts'
import type { Database } from './database.ts'
import { MIGRATIONS, migrate } from './migrations.ts'
import { pgliteDatabase } from './pglite.ts'
import { postgresDatabase } from './postgres.ts'

const silent = pino({ level: 'silent' })

interface Target {
  name: string
  open(): Promise<Database>
  /** Makes the database unreachable, then reachable again (PostgreSQL only). */
  outage?: { stop(): Promise<void>; start(): Promise<void> }
  cleanup(): Promise<void>
}

let pg: Postgres | undefined
let pgError: unknown
beforeAll(async () => {
  if (!inject('apt').postgresql) return
  try {
    pg = await startPostgres()
  } catch (error) {
    pgError = error
  }
})
afterAll(async () => {
  await pg?.destroy()
})

const pgliteDirs: string[] = []
const targets: Target[] = [
  {
    name: 'PGlite',
    async open() {
      const dir = copyDataDir(inject('pgliteTemplate'))
      pgliteDirs.push(dir)
      return pgliteDatabase(dir)
    },
    async cleanup() {
      for (const d of pgliteDirs.splice(0)) rmSync(d, { recursive: true, force: true })
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      if (pg === undefined) throw new Error('no PostgreSQL')
      const db = postgresDatabase({ url: pg.url, logger: silent })
      await migrate(db)
      return db
    },
    outage: {
      stop: () => pg!.stop(),
      start: () => pg!.start(),
    },
    async cleanup() {},
  },
]

describe.each(targets)('the database on $name', (target) => {
  let db: Database
  const skip = () => target.name === 'PostgreSQL' && pg === undefined
  beforeAll(async () => {
    if (skip()) {
      console.warn(
        `PostgreSQL tests skipped: ${pgError ?? 'the postgresql package could not be installed (scripts/ensure-apt.sh)'}`,
      )
      return
    }
    db = await target.open()
  })
  afterAll(async () => {
    await db?.close()
    await target.cleanup()
  })

  it('migrates once: a second run applies nothing', async (t) => {
    if (skip()) return t.skip()
    expect(await migrate(db)).toEqual([])
    const rows = await db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id')
    expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id))
  })

  it('stores users: the seed, a new one, a taken email, a missing id', async (t) => {
    if (skip()) return t.skip()
    const users = userRepository(db)
    expect(await users.get('1')).toEqual({
      id: '1',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
    })
    const email = `grace-${target.name}@example.com`
    const grace = await users.create({ name: 'Grace Hopper', email })
    expect(grace).toMatchObject({ name: 'Grace Hopper', email })
    expect(Number(grace.id)).toBeGreaterThan(1)
    expect(await users.get(grace.id)).toEqual(grace)
    await expect(users.create({ name: 'Other', email })).rejects.toBeInstanceOf(EmailTakenError)
    expect(await users.get('999999')).toBeUndefined()
    expect(await users.get('1; DROP TABLE users')).toBeUndefined()
  })

  it('claims idempotency keys: once, replay, mismatch, in progress, release', async (t) => {
    if (skip()) return t.skip()
    const store = idempotencyStore(db)
    const key = `key-${target.name}-${Date.now()}`
    const first = await store.claim(key, 'hash-a')
    expect(first.kind).toBe('claimed')
    expect(await store.claim(key, 'hash-a')).toEqual({ kind: 'in-progress' })
    expect(await store.claim(key, 'hash-b')).toEqual({ kind: 'mismatch' })
    await store.complete(key, { status: 201, body: { orderId: 'o-1', total: 3 } })
    expect(await store.claim(key, 'hash-a')).toEqual({
      kind: 'replay',
      orderId: first.kind === 'claimed' ? first.orderId : '',
      response: { status: 201, body: { orderId: 'o-1', total: 3 } },
    })
    const other = `${key}-released`
    const claimed = await store.claim(other, 'h')
    await store.release(other)
    const again = await store.claim(other, 'h')
    expect(again.kind).toBe('claimed')
    expect(again.kind === 'claimed' && claimed.kind === 'claimed' && again.orderId).not.toBe(
      claimed.kind === 'claimed' && claimed.orderId,
    )
  })

  it('of two concurrent claims of one key, exactly one wins', async (t) => {
    if (skip()) return t.skip()
    const store = idempotencyStore(db)
    const key = `race-${target.name}-${Date.now()}`
    const results = await Promise.all(Array.from({ length: 8 }, () => store.claim(key, 'same')))
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1)
    expect(results.filter((r) => r.kind === 'in-progress')).toHaveLength(7)
  })

  it('a query takes the signal: an aborted signal rejects with its reason, runs nothing', async (t) => {
    if (skip()) return t.skip()
    const reason = new Error('deadline')
    await expect(
      db.query(
        `INSERT INTO users (name, email) VALUES ('x', 'never@example.com')`,
        [],
        AbortSignal.abort(reason),
      ),
    ).rejects.toBe(reason)
    expect(await db.query(`SELECT id FROM users WHERE email = 'never@example.com'`)).toEqual([])
  })

  // A cancel stops whatever its connection runs when it arrives: a connection handed
  // back before its cancel is carried out gets the next caller's statement cancelled.
  if (target.outage !== undefined)
    it("a cancel never stops another caller's statement on a reused connection", async (t) => {
      if (skip()) return t.skip()
      const lost: unknown[] = []
      for (let round = 0; round < 100; round++) {
        const calls: Promise<unknown>[] = []
        for (let i = 0; i < 6; i++) {
          const controller = new AbortController()
          const sql = round % 2 === 0 ? 'SELECT 1' : 'SELECT pg_sleep(0.001)'
          calls.push(db.query(sql, [], controller.signal).catch(() => {}))
          setTimeout(() => controller.abort(new Error('deadline')), i % 3)
          calls.push(db.query('SELECT pg_sleep(0.002)').catch((error) => lost.push(error)))
        }
        await Promise.all(calls)
      }
      expect(lost).toEqual([])
    })

  // PGlite runs a statement synchronously inside the process: nothing can interrupt it.
  if (target.outage !== undefined)
    it('an abort mid-statement rejects at once and cancels it on the server; ping fails while the server is down', async (t) => {
      if (skip()) return t.skip()
      const reason = new Error('deadline')
      const early = new AbortController()
      const started = performance.now()
      const sleeping = db.query('SELECT pg_sleep(3)', [], early.signal)
      setTimeout(() => early.abort(reason), 100)
      await expect(sleeping).rejects.toBe(reason)
      expect(performance.now() - started).toBeLessThan(2500)

      const controller = new AbortController()
      const slow = db.query(`SELECT pg_sleep(20), 'sturdy-cancel-me'`, [], controller.signal)
      await new Promise((r) => setTimeout(r, 300))
      controller.abort(new Error('gone'))
      await expect(slow).rejects.toThrow('gone')
      // pg_cancel_backend stops it: the statement leaves pg_stat_activity within seconds.
      await expect
        .poll(
          async () =>
            (
              await db.query<{ n: string }>(
                `SELECT count(*)::text AS n FROM pg_stat_activity
               WHERE state = 'active' AND query LIKE '%sturdy-cancel-me%'
                 AND query NOT LIKE '%pg_stat_activity%'`,
              )
            )[0]?.n,
          // Under 20 s (pg_sleep's own end), so only the cancel can make it pass; an idle
          // connection keeps its last query text, hence state = 'active'.
          { timeout: 15_000, interval: 200 },
        )
        .toBe('0')

      await db.ping()
      await target.outage!.stop()
      await expect(db.ping(AbortSignal.timeout(5000))).rejects.toBeDefined()
      await target.outage!.start()
      await expect.poll(() => db.ping().then(() => 'up'), { timeout: 20_000 }).toBe('up')
    })
})
