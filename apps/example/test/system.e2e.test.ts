import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keepAliveLoad } from '@sturdy/lifecycle/testing'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { AppProcess, OtlpReceiver } from '../src/testing.ts'
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  copyDataDir,
  freePort,
  otlpReceiver,
  startApp,
  startPrometheus,
} from '../src/testing.ts'

// The four services as real processes (`node dist/main.js`, SERVICE=...), each on its
// own ephemeral ports, exporting spans to an OTLP receiver of the test's own.

const json = { 'content-type': 'application/json' }
const CHAOS_TOKEN = 'e2e-chaos-token'
const order = (over: Record<string, unknown> = {}) => ({
  userId: '1',
  items: [{ sku: 'BOOK-1', quantity: 2, priceCents: 1250 }],
  address: { street: '12 Analytical Row', city: 'London', country: 'GB' },
  ...over,
})

let otlp: OtlpReceiver
const procs: Partial<Record<'gateway' | 'users' | 'payments' | 'delivery', AppProcess>> = {}
const dirs: string[] = []
let ports: Record<string, number>
let env: Record<'gateway' | 'users' | 'payments' | 'delivery', Record<string, string>>
let G: string

beforeAll(async () => {
  otlp = await otlpReceiver()
  ports = {}
  for (const name of ['gateway', 'users', 'payments', 'delivery', 'mG', 'mU', 'mP', 'mD']) {
    ports[name] = await freePort()
  }
  const common = {
    GATEWAY_PORT: String(ports.gateway),
    USERS_PORT: String(ports.users),
    PAYMENTS_PORT: String(ports.payments),
    DELIVERY_PORT: String(ports.delivery),
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    BREAKER_OPEN_MS: '1500',
    LOG_LEVEL: 'info',
  }
  const dataDir = () => {
    const d = copyDataDir(inject('pgliteTemplate'))
    dirs.push(d)
    return d
  }
  env = {
    users: {
      ...common,
      SERVICE: 'users',
      METRICS_PORT: String(ports.mU),
      PGLITE_DATA_DIR: dataDir(),
    },
    // Fault injection steerable on payments (with a token); delivery keeps the default: off.
    payments: {
      ...common,
      SERVICE: 'payments',
      METRICS_PORT: String(ports.mP),
      CHAOS_ADMIN: '1',
      CHAOS_TOKEN: CHAOS_TOKEN,
    },
    delivery: { ...common, SERVICE: 'delivery', METRICS_PORT: String(ports.mD) },
    gateway: {
      ...common,
      SERVICE: 'gateway',
      METRICS_PORT: String(ports.mG),
      PGLITE_DATA_DIR: dataDir(),
      // As behind a Kubernetes Service: keep serving a moment after readiness fails.
      DRAIN_DELAY_MS: '1000',
    },
  }
  const started = await Promise.all(
    (['users', 'payments', 'delivery', 'gateway'] as const).map(
      async (s) => [s, await startApp(env[s])] as const,
    ),
  )
  for (const [s, p] of started) procs[s] = p
  G = `http://127.0.0.1:${ports.gateway}`
})

afterAll(async () => {
  await Promise.all(Object.values(procs).map((p) => p?.stop()))
  await otlp?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('the gateway API, over the real services', () => {
  it('reads and creates users through the users service (gRPC)', async () => {
    const ada = await fetch(`${G}/users/1`)
    expect(ada.status).toBe(200)
    expect(await ada.json()).toEqual({ id: '1', name: 'Ada Lovelace', email: 'ada@example.com' })

    const missing = await fetch(`${G}/users/424242`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toBe('application/problem+json')

    const created = await fetch(`${G}/users`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'Grace Hopper', email: 'grace@example.com' }),
    })
    expect(created.status).toBe(201)
    const grace = (await created.json()) as { id: string }
    expect(created.headers.get('location')).toBe(`/users/${grace.id}`)
    expect(await (await fetch(`${G}/users/${grace.id}`)).json()).toMatchObject({
      name: 'Grace Hopper',
    })

    const taken = await fetch(`${G}/users`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'Grace again', email: 'grace@example.com' }),
    })
    expect(taken.status).toBe(409)
    expect(await taken.json()).toMatchObject({ status: 409, code: 'EMAIL_TAKEN' })
  })

  it('answers 400 problem+json naming each bad field', async () => {
    const bad = await fetch(`${G}/users`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: '', email: 'not-an-email' }),
    })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toBe('application/problem+json')
    const body = (await bad.json()) as { errors: Array<{ path: string }> }
    expect(body.errors.map((e) => e.path).sort()).toEqual(['email', 'name'])

    const badOrder = await fetch(`${G}/orders`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(
        order({ items: [{ sku: '', quantity: 0, priceCents: 1 }], address: {} }),
      ),
    })
    expect(badOrder.status).toBe(400)
    const paths = ((await badOrder.json()) as { errors: Array<{ path: string }> }).errors.map(
      (e) => e.path,
    )
    expect(paths).toEqual(
      expect.arrayContaining(['items.0.sku', 'items.0.quantity', 'address.street']),
    )

    expect((await fetch(`${G}/users/abc`)).status).toBe(400)
  })

  it('places an order: payment and delivery, replayed for the same Idempotency-Key', async () => {
    const headers = { ...json, 'idempotency-key': 'order-e2e-1' }
    const first = await fetch(`${G}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(order()),
    })
    expect(first.status).toBe(201)
    const placed = (await first.json()) as Record<string, unknown>
    expect(placed).toMatchObject({
      status: 'confirmed',
      totalCents: 2500,
      payment: { status: 'captured' },
      delivery: { eta: expect.any(String) },
    })

    // The same key and body: the same answer, nothing charged twice.
    const again = await fetch(`${G}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(order()),
    })
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(placed)
    const charge = await fetch(
      `http://127.0.0.1:${ports.payments}/charges/${(placed.payment as { id: string }).id}`,
    )
    expect(charge.status).toBe(200)

    // The same key with another body: 422.
    const other = await fetch(`${G}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(order({ items: [{ sku: 'BOOK-2', quantity: 1, priceCents: 999 }] })),
    })
    expect(other.status).toBe(422)
    expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })

    const nobody = await fetch(`${G}/orders`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(order({ userId: '9999' })),
    })
    expect(nobody.status).toBe(422)
    expect(await nobody.json()).toMatchObject({
      code: 'UNKNOWN_USER',
      errors: [{ path: 'userId' }],
    })
  })

  it("one order's spans form one trace across all four services", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await fetch(`${G}/orders`, {
      method: 'POST',
      headers: { ...json, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify(order()),
    })
    expect(res.status).toBe(201)
    const services = () =>
      new Set(otlp.spans.filter((s) => s.traceId === traceId).map((s) => s.service))
    await expect
      .poll(() => [...services()].sort(), { timeout: 20_000, interval: 200 })
      .toEqual([
        'sturdy-example-delivery',
        'sturdy-example-gateway',
        'sturdy-example-payments',
        'sturdy-example-users',
      ])
    const spans = otlp.spans.filter((s) => s.traceId === traceId)
    const names = spans.map((s) => `${s.kind}:${s.name}`)
    // SERVER spans (kind 2) in every service, CLIENT spans (kind 3) for each hop.
    expect(names).toEqual(
      expect.arrayContaining([
        '2:POST /orders',
        '2:sturdy.example.user.v1.UserService/GetUser',
        '3:sturdy.example.user.v1.UserService/GetUser',
        '2:POST /charges',
        '2:POST /deliveries',
        '3:POST',
      ]),
    )
    // Each downstream SERVER span's parent is one of the gateway's CLIENT spans.
    const ids = new Map(spans.map((s) => [s.spanId, s]))
    for (const name of [
      'sturdy.example.user.v1.UserService/GetUser',
      'POST /charges',
      'POST /deliveries',
    ]) {
      const server = spans.find((s) => s.kind === 2 && s.name === name)!
      expect(ids.get(server.parentSpanId!)?.kind).toBe(3)
    }
    // The root is the caller's span: the gateway's SERVER span continues its trace.
    expect(spans.find((s) => s.name === 'POST /orders')?.parentSpanId).toBe('00f067aa0ba902b7')
  })
})

describe('metrics on their own port, scraped by a real Prometheus', () => {
  it('Prometheus scrapes /metrics: target up, RED series by route template', async (t) => {
    if (!inject('apt').prometheus) {
      console.warn(
        'Prometheus test skipped: the prometheus package could not be installed (scripts/ensure-apt.sh)',
      )
      return t.skip()
    }
    await fetch(`${G}/users/1`)
    const prom = await startPrometheus([`127.0.0.1:${ports.mG}`, `127.0.0.1:${ports.mP}`])
    try {
      await expect
        .poll(async () => (await prom.targets()).map((x) => `${x.health}${x.lastError}`), {
          timeout: 60_000,
          interval: 500,
        })
        .toEqual(['up', 'up'])
      await expect
        .poll(
          async () =>
            (await prom.query('http_server_request_duration_seconds_count{service="gateway"}')).map(
              (r) => r.metric.route,
            ),
          { timeout: 30_000, interval: 500 },
        )
        .toContain('/users/:id')
      const breakers = await prom.query('sturdy_breaker_calls_total')
      expect(breakers.length).toBeGreaterThan(0)
    } finally {
      await prom.stop()
    }
  })
})

describe('the status page, in headless Chromium', () => {
  it('renders, and updates after traffic', async (t) => {
    if (!inject('apt').chromium) {
      console.warn(
        'Status page test skipped: the chromium package could not be installed (scripts/ensure-apt.sh)',
      )
      return t.skip()
    }
    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage()
      await page.goto(`${G}/status`)
      await expect.poll(() => page.textContent('#service'), { timeout: 20_000 }).toBe('gateway')
      const dependency = page.locator('tr[data-dependency="payments"] .badge')
      await expect.poll(() => dependency.textContent(), { timeout: 20_000 }).toBe('closed')
      const total = async () =>
        Number(
          (await page
            .locator('tr[data-route="GET /users/:id"][data-service="gateway"] td.total')
            .textContent({ timeout: 1000 })
            .catch(() => '0')) ?? 0,
        )
      const before = await total()
      for (let i = 0; i < 5; i++) await fetch(`${G}/users/1`)
      await expect
        .poll(total, { timeout: 20_000, interval: 250 })
        .toBeGreaterThanOrEqual(before + 5)
      await page.screenshot({ path: join(tmpdir(), 'sturdy-status-page.png'), fullPage: true })
    } finally {
      await browser.close()
    }
  })
})

const metric = async (port: number, pattern: RegExp): Promise<string | undefined> =>
  (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
    .split('\n')
    .find((l) => pattern.test(l))

/** Steers payments' fault injection through its admin (`PUT /_chaos/<name>/<setting>/<value>`). */
async function chaos(name: string, setting: string, value: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${ports.payments}/_chaos/${name}/${setting}/${value}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${CHAOS_TOKEN}` },
  })
  expect(res.status, await res.clone().text()).toBe(200)
  await res.body?.cancel()
}

describe('fault injection (@sturdy/chaos), steered at run time', () => {
  it('the admin is off unless enabled, and asks for the token when one is set', async () => {
    // Delivery runs without CHAOS_ADMIN: no admin at all.
    expect((await fetch(`http://127.0.0.1:${ports.delivery}/_chaos`)).status).toBe(404)
    expect((await fetch(`${G}/_chaos`)).status).toBe(404)
    const P = `http://127.0.0.1:${ports.payments}/_chaos`
    expect((await fetch(P)).status).toBe(403)
    expect((await fetch(P, { headers: { authorization: 'Bearer wrong-token!' } })).status).toBe(403)
    const listed = await fetch(P, { headers: { authorization: `Bearer ${CHAOS_TOKEN}` } })
    expect(listed.status).toBe(200)
    const { chaos: controls } = (await listed.json()) as {
      chaos: Array<{ name: string; enabled: boolean; routes: string[] }>
    }
    expect(controls.map((c) => [c.name, c.enabled])).toEqual([
      ['payments-errors', false],
      ['payments-latency', false],
      ['payments-hang', false],
    ])
    expect(controls[0]?.routes).toEqual(['POST /charges'])
  })

  it('a deadline holds end to end: payments hangs, its own deadline (sent by the gateway) ends it', async () => {
    await chaos('payments-hang', 'enabled', 'true')
    try {
      // The caller allows 3 s. The gateway keeps a reserve, then sends payments what is
      // left minus the client's margin; payments' deadline fires first and answers 504.
      // On a loaded machine its timer may slip past that margin, and the gateway's own
      // timer ends the call first (payments then sees the client leave): up to five
      // tries, to see the callee's deadline do it.
      let seen: Record<string, unknown> | undefined
      for (let i = 0; i < 5 && seen === undefined; i++) {
        const traceId = `${'d'.repeat(31)}${i}`
        const started = performance.now()
        const res = await fetch(`${G}/orders`, {
          method: 'POST',
          headers: {
            ...json,
            'x-request-timeout-ms': '3000',
            traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
          },
          body: JSON.stringify(order()),
        })
        const elapsed = performance.now() - started
        expect(res.status).toBe(504)
        const body = (await res.json()) as Record<string, unknown>
        expect(body).toMatchObject({
          code: 'ORDER_FAILED',
          failedStep: 'payment',
          steps: { payment: expect.stringMatching(/^(failed|cancelled)$/) },
        })
        // The charge never ran: when payments answered its 504 there is nothing to undo;
        // when the gateway's timer cancelled the call, the refund finds nothing to refund.
        // Each undo is done, or still running when the caller's time was up (it then
        // finishes in the background: the delivery's log says so below).
        const undo = body.compensation as Array<{ step: string; outcome: string }>
        for (const c of undo) {
          expect(c.outcome).toMatch(
            c.step === 'payment' ? /^(nothing-to-undo|pending)$/ : /^(done|pending)$/,
          )
        }
        if ((body.steps as { delivery: string }).delivery === 'succeeded') {
          expect(undo.map((c) => c.step)).toContain('delivery')
          await procs.delivery!.waitFor(
            (l) => l.msg === 'delivery cancelled' && l.order_id === body.orderId,
            10_000,
          )
        }
        // Answered within the caller's 3 s (plus the machine's scheduling slack).
        expect(elapsed).toBeLessThan(3000 + 2000)
        const line = await procs.payments!.waitFor(
          (l) => l.trace_id === traceId && l.path === '/charges' && l.abort !== undefined,
          10_000,
        )
        // Payments' request ended at a deadline, not later: its own or the caller's.
        expect(line.abort).toMatch(/^(deadline|client-disconnect)$/)
        expect(line.duration_ms as number).toBeLessThan(3000)
        if (line.abort === 'deadline') seen = line
      }
      expect(seen, "payments' own deadline never fired first in 5 tries").toMatchObject({
        status: 504,
        abort: 'deadline',
        chaos: [{ name: 'payments-hang', kind: 'hang' }],
      })
    } finally {
      await chaos('payments-hang', 'enabled', 'false')
    }
  })

  it('injected errors: retries, the breaker opens, the delivery is cancelled; off again, it closes', async () => {
    const paymentsOrigin = `http://127.0.0.1:${ports.payments}`
    await chaos('payments-errors', 'enabled', 'true')
    let res: Response | undefined
    let body: Record<string, unknown> = {}
    const details: string[] = []
    try {
      for (let i = 0; i < 10; i++) {
        res = await fetch(`${G}/orders`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify(order()),
        })
        body = (await res.json()) as Record<string, unknown>
        details.push(String(body.detail))
        expect(body).toMatchObject({ code: 'ORDER_FAILED', failedStep: 'payment' })
        if ((body.cause as { code?: string }).code === 'BROKEN_CIRCUIT') break
      }
      // The first orders: payments answered the injected 503 three times (retried: the
      // charge carries an Idempotency-Key), the delivery that went through was cancelled.
      expect(details[0]).toMatch(
        /^The payment step failed \(HTTP_STATUS: 127\.0\.0\.1:\d+ answered 503 CHAOS_FAULT\); compensation: delivery cancelled\.$/,
      )
      // More than 5 consecutive failures: the breaker opened, orders fail fast.
      expect(res?.status).toBe(503)
      expect(Number(res?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(
        await metric(ports.mG!, new RegExp(`^sturdy_breaker_state\\{name="${paymentsOrigin}"\\}`)),
      ).toMatch(/ 2$/)
      // The injections are counted where they happened.
      expect(
        await metric(ports.mP!, /^sturdy_chaos_injections_total\{.*name="payments-errors"/),
      ).toMatch(/ [1-9]\d*$/)
      const status = (await (await fetch(`${G}/status.json`)).json()) as {
        dependencies: Array<{ name: string; breaker: string }>
      }
      expect(status.dependencies.find((d) => d.name === 'payments')?.breaker).toMatch(
        /^(open|half-open)$/,
      )
    } finally {
      await chaos('payments-errors', 'enabled', 'false')
    }
    // Faults off: after the open period a trial order goes through and the breaker closes.
    await expect
      .poll(
        async () =>
          (
            await fetch(`${G}/orders`, {
              method: 'POST',
              headers: json,
              body: JSON.stringify(order()),
            })
          ).status,
        { timeout: 20_000, interval: 300 },
      )
      .toBe(201)
    expect(
      await metric(ports.mG!, new RegExp(`^sturdy_breaker_state\\{name="${paymentsOrigin}"\\}`)),
    ).toMatch(/ 0$/)
  })
})

describe('a dependency goes down: retries, the breaker opens, the order is compensated, then it recovers', () => {
  it('refunds the payment, fails fast while open, and closes once delivery is back', async () => {
    const deliveryOrigin = `http://127.0.0.1:${ports.delivery}`
    expect(await procs.delivery!.stop()).toBe(0)

    // Each order: the payment succeeds, the delivery is refused (retried: never sent),
    // the order fails and the payment is refunded. After 6 failed attempts the breaker
    // opens and later orders fail fast with 503 + Retry-After.
    let body: Record<string, unknown> = {}
    let res: Response | undefined
    const details: string[] = []
    for (let i = 0; i < 10; i++) {
      res = await fetch(`${G}/orders`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(order()),
      })
      body = (await res.json()) as Record<string, unknown>
      details.push(String(body.detail))
      expect(res.status).toBeGreaterThanOrEqual(502)
      expect(body).toMatchObject({ code: 'ORDER_FAILED', failedStep: 'delivery' })
      expect(body.compensation).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            step: 'payment',
            action: 'refund',
            outcome: expect.stringMatching(/done|nothing-to-undo/),
          }),
        ]),
      )
      if ((body.cause as { code?: string }).code === 'BROKEN_CIRCUIT') break
    }
    expect(res?.status).toBe(503)
    expect(Number(res?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(body.detail).toMatch(/delivery step failed \(BROKEN_CIRCUIT/)
    // The first failures came after the payment was taken: it was refunded.
    expect(details[0]).toMatch(
      /delivery step failed \(CONNECTION.*; compensation: payment refunded\./,
    )
    expect(
      await metric(ports.mG!, new RegExp(`^sturdy_breaker_state\\{name="${deliveryOrigin}"\\}`)),
    ).toMatch(/ 2$/)

    // The status page's JSON says so too.
    const status = (await (await fetch(`${G}/status.json`)).json()) as {
      dependencies: Array<{ name: string; breaker: string; retriesTotal: number }>
    }
    const delivery = status.dependencies.find((d) => d.name === 'delivery')
    // Open, or already half-open if the 1.5 s open period passed (a busy machine).
    expect(delivery?.breaker).toMatch(/^(open|half-open)$/)
    expect(delivery?.retriesTotal).toBeGreaterThan(0)

    // Delivery comes back; after the open period a trial order goes through and the
    // breaker closes.
    procs.delivery = await startApp(env.delivery)
    await expect
      .poll(
        async () =>
          (
            await fetch(`${G}/orders`, {
              method: 'POST',
              headers: json,
              body: JSON.stringify(order()),
            })
          ).status,
        { timeout: 20_000, interval: 300 },
      )
      .toBe(201)
    expect(
      await metric(ports.mG!, new RegExp(`^sturdy_breaker_state\\{name="${deliveryOrigin}"\\}`)),
    ).toMatch(/ 0$/)
  })
})

describe('graceful shutdown', () => {
  it('loses no request in flight when the gateway drains on SIGTERM', async () => {
    const rest = createServer((_req, res) => res.end('another pod'))
    rest.listen(0, '127.0.0.1')
    await once(rest, 'listening')
    const restPort = (rest.address() as { port: number }).port
    const load = keepAliveLoad({
      target: G,
      fallback: `http://127.0.0.1:${restPort}`,
      clients: 20,
      path: '/users/1',
    })
    try {
      await load.untilTargetServed(100)
      process.kill(procs.gateway!.pid, 'SIGTERM')
      expect(await procs.gateway!.exited).toBe(0)
    } finally {
      const result = await load.stop()
      rest.close()
      expect(result.failures).toEqual([])
      expect(result.fromTarget).toBeGreaterThanOrEqual(100)
    }
    const summary = procs.gateway!.lines.find((l) => l.msg === 'shutdown complete')
    expect(summary).toMatchObject({ exitCode: 0, aborted: 0 })
    // Nothing but JSON on stdout and stderr, from start to exit.
    expect(procs.gateway!.other).toEqual([])
  })
})
