import { describe, expect, it } from 'vitest'
import { createApp } from './app.ts'
import { memoryStore } from './store.ts'

const app = () => createApp({ store: memoryStore([{ id: '1', name: 'Ada', email: 'ada@x.io' }]) })
const post = (body: string, headers: Record<string, string> = {}) =>
  app().request('/users', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  })

describe('example app', () => {
  it('GET /healthz', async () => {
    const res = await app().request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /users/:id returns a user', async () => {
    const res = await app().request('/users/1')
    expect(await res.json()).toEqual({ id: '1', name: 'Ada', email: 'ada@x.io' })
  })

  it('an unknown id is a 404 problem', async () => {
    const res = await app().request('/users/999')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({
      title: 'Not Found',
      status: 404,
      detail: 'No user with id 999',
    })
  })

  it('POST /users creates a user and it can be read back', async () => {
    const a = app()
    const res = await a.request('/users', {
      method: 'POST',
      body: JSON.stringify({ name: 'Grace', email: 'grace@x.io' }),
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(201)
    const user = (await res.json()) as { id: string }
    expect(res.headers.get('location')).toBe(`/users/${user.id}`)
    expect(await (await a.request(`/users/${user.id}`)).json()).toMatchObject({ name: 'Grace' })
  })

  it('malformed JSON is a 400 problem', async () => {
    const res = await post('{"name": ')
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 400, detail: 'Malformed JSON body' })
  })

  it('a bad body is a 400 problem naming each failing field', async () => {
    const res = await post(JSON.stringify({ name: '', email: 'nope' }))
    expect(res.status).toBe(400)
    const body = (await res.json()) as { errors: Array<{ path: string }> }
    expect(body.errors.map((e) => e.path).sort()).toEqual(['email', 'name'])
  })

  it('a wrong content type is a 400 problem', async () => {
    const res = await post('name=x', { 'content-type': 'application/x-www-form-urlencoded' })
    expect(res.status).toBe(400)
  })

  it('an oversized body is a 413 problem', async () => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(20_000), email: 'a@b.io' }))
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
  })

  it('an unknown route is a 404 problem', async () => {
    const res = await app().request('/nope')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('a crash is a 500 problem with no stack or message', async () => {
    const a = createApp({
      store: {
        get: async () => {
          throw new Error('db password=hunter2')
        },
        create: async () => {
          throw new Error('x')
        },
      },
    })
    const res = await a.request('/users/1')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(text).not.toContain('hunter2')
  })
})
