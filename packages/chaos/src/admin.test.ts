import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { ChaosAdminOptions } from './index.ts'
import { chaosAdmin, chaosAdminHandler, chaosFault, chaosMiddleware } from './index.ts'

function setup(options: Partial<ChaosAdminOptions> = {}) {
  const slow = chaosMiddleware({ name: 'slow', kind: 'latency', latencyMs: 100, enabled: false })
  const fault = chaosFault({ name: 'db-fault', injectionRate: 0.1 })
  const controls = [slow, fault]
  const admin = { controls, enabled: true, ...options }
  const hono = new Hono().use(sturdy(chaosAdmin(admin)))
  hono.get('/users/:id', (c) => c.text('user'))
  const handler = chaosAdminHandler(admin)
  /** The same request through both mounts; they must agree. */
  const both = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const viaMiddleware = await hono.request(path, { method, headers })
    const viaHandler = await handler(new Request(`http://host${path}`, { method, headers }))
    const a = { status: viaMiddleware.status, body: await viaMiddleware.text() }
    const b = { status: viaHandler.status, body: await viaHandler.text() }
    expect(a).toEqual(b)
    for (const name of ['content-type', 'allow', 'cache-control']) {
      expect(viaMiddleware.headers.get(name)).toBe(viaHandler.headers.get(name))
    }
    return {
      ...a,
      json: a.body === '' ? undefined : JSON.parse(a.body),
      headers: viaMiddleware.headers,
    }
  }
  return { slow, fault, hono, handler, both }
}

describe('chaos admin (middleware and fetch handler alike)', () => {
  it('lists and reads settings', async () => {
    const { both } = setup()
    const list = await both('GET', '/_chaos')
    expect(list.status).toBe(200)
    expect(list.headers.get('content-type')).toBe('application/json')
    expect(list.headers.get('cache-control')).toBe('no-store')
    expect(list.json).toEqual({
      chaos: [
        {
          name: 'slow',
          kind: 'latency',
          scope: 'middleware',
          enabled: false,
          injectionRate: 0.001,
          latencyMs: { min: 100, max: 100 },
        },
        { name: 'db-fault', kind: 'fault', scope: 'policy', enabled: true, injectionRate: 0.1 },
      ],
    })
    expect((await both('GET', '/_chaos/db-fault')).json).toMatchObject({ name: 'db-fault' })
    expect((await both('GET', '/_chaos/')).status).toBe(200)
    const head = await both('HEAD', '/_chaos')
    expect(head).toMatchObject({ status: 200, body: '' })
  })

  it('changes settings through the path, and the chaos obeys at once', async () => {
    const { both, slow, fault } = setup()
    expect((await both('PUT', '/_chaos/slow/enabled/true')).json).toMatchObject({ enabled: true })
    expect(slow.settings().enabled).toBe(true)
    await both('PUT', '/_chaos/slow/injection-rate/0.25')
    expect(slow.settings().injectionRate).toBe(0.25)
    await both('PUT', '/_chaos/slow/latency-ms/200-800')
    expect(slow.settings().latencyMs).toEqual({ min: 200, max: 800 })
    await both('PUT', '/_chaos/slow/latency-ms/50')
    expect(slow.settings().latencyMs).toEqual({ min: 50, max: 50 })
    const all = await both('PUT', '/_chaos/*/enabled/false')
    expect(all.json.chaos.map((s: { enabled: boolean }) => s.enabled)).toEqual([false, false])
    expect(fault.settings().enabled).toBe(false)
  })

  it('answers problem+json on bad input and changes nothing', async () => {
    const { both, slow, fault } = setup()
    const before = [slow.settings(), fault.settings()]
    const cases: Array<[string, string, number]> = [
      ['PUT', '/_chaos/slow/injection-rate/1.5', 400],
      ['PUT', '/_chaos/slow/injection-rate/-1', 400],
      ['PUT', '/_chaos/slow/injection-rate/1e-3', 400],
      ['PUT', '/_chaos/slow/injection-rate/NaN', 400],
      ['PUT', '/_chaos/slow/enabled/yes', 400],
      ['PUT', '/_chaos/slow/latency-ms/60001', 400],
      ['PUT', '/_chaos/slow/latency-ms/500-100', 400],
      ['PUT', '/_chaos/slow/latency-ms/100-', 400],
      ['PUT', '/_chaos/db-fault/latency-ms/100', 400],
      ['PUT', '/_chaos/*/latency-ms/100', 400],
      ['PUT', '/_chaos/slow/colour/red', 400],
      ['PUT', '/_chaos/%E0%A4%A/enabled/true', 400],
      ['PUT', '/_chaos/nobody/enabled/true', 404],
      ['GET', '/_chaos/nobody', 404],
      ['PUT', '/_chaos/slow/enabled', 404],
      ['PUT', '/_chaos/slow/enabled/true/extra', 404],
      ['DELETE', '/_chaos', 405],
      ['POST', '/_chaos/slow', 405],
      ['GET', '/_chaos/slow/enabled/true', 405],
    ]
    for (const [method, path, status] of cases) {
      const res = await both(method, path)
      expect({ method, path, status: res.status }).toEqual({ method, path, status })
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.json).toMatchObject({ status })
    }
    expect((await both('DELETE', '/_chaos')).headers.get('allow')).toBe('GET, HEAD')
    expect((await both('POST', '/_chaos/slow/enabled/true')).headers.get('allow')).toBe('PUT')
    expect([slow.settings(), fault.settings()]).toEqual(before)
  })

  it('is off unless enabled: the middleware passes requests on, the handler answers 404', async () => {
    const { hono, handler, slow } = setup({ enabled: undefined })
    expect((await hono.request('/_chaos')).status).toBe(404)
    expect((await hono.request('/_chaos/slow/enabled/true', { method: 'PUT' })).status).toBe(404)
    expect(slow.settings().enabled).toBe(false)
    const res = await handler(new Request('http://host/_chaos'))
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('leaves other paths alone', async () => {
    const { hono, handler } = setup()
    expect(await (await hono.request('/users/1')).text()).toBe('user')
    expect((await hono.request('/_chaosx')).status).toBe(404)
    expect((await handler(new Request('http://host/users/1'))).status).toBe(404)
    expect((await hono.request(`/_chaos/${'a'.repeat(600)}`)).status).toBe(404)
  })

  it('authorize decides; a throwing check denies', async () => {
    const token = 'Bearer s3cret'
    const { both, slow } = setup({ authorize: (req) => req.header('authorization') === token })
    const denied = await both('PUT', '/_chaos/slow/enabled/true')
    expect(denied.status).toBe(403)
    expect(denied.json).toMatchObject({ title: 'Forbidden', status: 403 })
    expect(slow.settings().enabled).toBe(false)
    expect((await both('PUT', '/_chaos/slow/enabled/true', { authorization: token })).status).toBe(
      200,
    )
    const throwing = setup({
      authorize: () => {
        throw new Error('auth backend down')
      },
    })
    expect((await throwing.both('GET', '/_chaos')).status).toBe(403)
  })

  it('a custom path, and nonsense options rejected at construction', async () => {
    const { both } = setup({ path: '/ops/chaos/' })
    expect((await both('GET', '/ops/chaos')).status).toBe(200)
    const fault = chaosFault({ name: 'same' })
    expect(() => chaosAdmin({ controls: [fault, chaosFault({ name: 'same' })] })).toThrow(/unique/)
    expect(() => chaosAdmin({ controls: [], path: 'ops' })).toThrow(TypeError)
    expect(() => chaosAdmin({ controls: [], maxLatencyMs: Number.NaN })).toThrow(RangeError)
  })
})
