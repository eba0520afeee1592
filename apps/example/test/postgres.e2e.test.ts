import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { AppProcess, Postgres } from '../src/testing.ts'
import { freePort, startApp, startPostgres } from '../src/testing.ts'

// The whole system in one process (SERVICE=all, the default) on a real PostgreSQL
// (DATABASE_URL), started by the test itself from Debian's package.

let pg: Postgres | undefined
let app: AppProcess | undefined
let skipReason: string | undefined
let G: string

beforeAll(async () => {
  if (!inject('apt').postgresql) {
    skipReason = 'the postgresql package could not be installed (scripts/ensure-apt.sh)'
    return
  }
  pg = await startPostgres()
  const env: Record<string, string> = { DATABASE_URL: pg.url }
  for (const name of [
    'GATEWAY_PORT',
    'USERS_PORT',
    'PAYMENTS_PORT',
    'DELIVERY_PORT',
    'METRICS_PORT',
  ]) {
    env[name] = String(await freePort())
  }
  app = await startApp(env)
  G = `http://127.0.0.1:${env.GATEWAY_PORT}`
})

afterAll(async () => {
  await app?.stop()
  await pg?.destroy()
})

describe('on PostgreSQL, every service in one process', () => {
  it('migrates at start and serves users and orders from PostgreSQL', async (t) => {
    if (skipReason !== undefined) {
      console.warn(`PostgreSQL end-to-end test skipped: ${skipReason}`)
      return t.skip()
    }
    expect(app!.lines.find((l) => l.msg === 'database ready')).toMatchObject({ db: 'postgres' })
    expect(await (await fetch(`${G}/users/1`)).json()).toMatchObject({ name: 'Ada Lovelace' })
    const order = {
      userId: '1',
      items: [{ sku: 'PEN', quantity: 1, priceCents: 300 }],
      address: { street: '1 Rue', city: 'Paris', country: 'FR' },
    }
    const headers = { 'content-type': 'application/json', 'idempotency-key': 'pg-order-1' }
    const first = await fetch(`${G}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(order),
    })
    expect(first.status).toBe(201)
    const again = await fetch(`${G}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(order),
    })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(await first.json())
  })

  it('readiness fails while the database is unreachable, and recovers with it', async (t) => {
    if (skipReason !== undefined) return t.skip()
    expect((await fetch(`${G}/readyz`)).status).toBe(200)
    await pg!.stop()
    await expect
      .poll(async () => (await fetch(`${G}/readyz`)).status, { timeout: 15_000, interval: 250 })
      .toBe(503)
    const body = (await (await fetch(`${G}/readyz`)).json()) as {
      checks: { database: { status: string } }
    }
    expect(body.checks.database.status).toBe('fail')
    // Liveness stays up: restarting the process would not bring the database back.
    expect((await fetch(`${G}/healthz`)).status).toBe(200)
    // A request needing the database fails cleanly (problem+json), the process lives on.
    const res = await fetch(`${G}/users/1`)
    expect(res.status).toBeGreaterThanOrEqual(500)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    await pg!.start()
    await expect
      .poll(async () => (await fetch(`${G}/readyz`)).status, { timeout: 30_000, interval: 250 })
      .toBe(200)
    expect((await fetch(`${G}/users/1`)).status).toBe(200)
  })
})
