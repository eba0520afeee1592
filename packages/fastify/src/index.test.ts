// Fastify-specific behaviour: encapsulation, nested registrations, error routing. What
// every adapter must do alike is proven in packages/conformance.
import type { Exchange, Middleware } from '@sturdy/core'
import type { FastifyInstance } from 'fastify'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { exchangeOf, sturdy } from './index.ts'

const apps: FastifyInstance[] = []
afterEach(async () => {
  for (const app of apps.splice(0)) {
    app.server.closeAllConnections()
    await app.close()
  }
})

async function serve(app: FastifyInstance): Promise<string> {
  apps.push(app)
  return app.listen({ port: 0, host: '127.0.0.1' })
}

function tag(name: string, log: string[]): Middleware {
  return async function tagRequest(ex, next) {
    log.push(`${name}:${ex.path}`)
    ex.set(name, true)
    await next()
  }
}

describe('the sturdy plugin on Fastify', () => {
  it('respects encapsulation: covers its context and children, not the parent or siblings', async () => {
    const log: string[] = []
    const app = Fastify()
    app.get('/root', async (request) => ({ values: request.sturdy ?? null }))
    await app.register(async (scoped) => {
      await scoped.register(sturdy, { middleware: [tag('scoped', log)] })
      scoped.get('/inside', async (request) => ({ values: request.sturdy }))
      await scoped.register(async (child) => {
        child.get('/child', async (request) => ({ values: request.sturdy }))
      })
    })
    await app.register(async (sibling) => {
      sibling.get('/sibling', async (request) => ({ values: request.sturdy ?? null }))
    })
    const url = await serve(app)
    const read = async (path: string) => (await fetch(url + path)).json()
    expect(await read('/inside')).toEqual({ values: { scoped: true } })
    expect(await read('/child')).toEqual({ values: { scoped: true } })
    expect(await read('/root')).toEqual({ values: null })
    expect(await read('/sibling')).toEqual({ values: null })
    expect(log).toEqual(['scoped:/inside', 'scoped:/child'])
  })

  it('registered in nested contexts: outer middleware first, one shared Exchange', async () => {
    const log: string[] = []
    const seen: Exchange[] = []
    const grab: Middleware = async function grab(ex, next) {
      seen.push(ex)
      await next()
    }
    const app = Fastify()
    await app.register(sturdy, { middleware: [tag('outer', log), grab] })
    await app.register(
      async (api) => {
        await api.register(sturdy, { middleware: [tag('inner', log), grab] })
        api.get('/x', async (request) => ({ values: request.sturdy }))
      },
      { prefix: '/api' },
    )
    const url = await serve(app)
    const res = await fetch(`${url}/api/x`)
    expect(await res.json()).toEqual({ values: { outer: true, inner: true } })
    expect(log).toEqual(['outer:/api/x', 'inner:/api/x'])
    expect(seen).toHaveLength(2)
    expect(seen[0]).toBe(seen[1])
    expect(seen[0]?.route()).toBe('/api/x')
  })

  it("hands an error thrown before next() to the app's error handler", async () => {
    const boom = Object.assign(new Error('not allowed'), { statusCode: 403 })
    let handled: unknown
    const app = Fastify()
    app.setErrorHandler((error, _request, reply) => {
      handled = error
      return reply.code(418).send({ handled: true })
    })
    await app.register(sturdy, {
      middleware: [
        async () => {
          throw boom
        },
      ],
    })
    app.get('/', async () => 'never')
    const url = await serve(app)
    const res = await fetch(url)
    expect(res.status).toBe(418)
    expect(await res.json()).toEqual({ handled: true })
    expect(handled).toBe(boom)
  })

  it('records handler errors through onError, with the status the error handler chose', async () => {
    const seen: Array<[number, unknown]> = []
    const boom = Object.assign(new Error('conflict'), { statusCode: 409 })
    const app = Fastify()
    await app.register(sturdy, {
      middleware: [
        async (ex, next) => {
          await next()
          seen.push([ex.status, ex.error])
        },
      ],
    })
    app.get('/', async () => {
      throw boom
    })
    const url = await serve(app)
    expect((await fetch(url)).status).toBe(409)
    expect(seen).toEqual([[409, boom]])
  })

  it('short-circuits with exactly the given status, headers and body', async () => {
    const app = Fastify()
    await app.register(sturdy, {
      middleware: [
        async (ex) => {
          ex.setHeader('x-early', '1')
          ex.respond(429, 'slow down', { 'content-type': 'text/plain', 'retry-after': '3' })
        },
      ],
    })
    app.get('/', async () => 'never')
    const url = await serve(app)
    const res = await fetch(url)
    expect(res.status).toBe(429)
    expect(res.headers.get('content-type')).toBe('text/plain')
    expect(res.headers.get('retry-after')).toBe('3')
    expect(res.headers.get('x-early')).toBe('1')
    expect(await res.text()).toBe('slow down')
  })

  it('exchangeOf(request) gives Fastify glue the same Exchange the middleware see', async () => {
    const seen: Exchange[] = []
    const app = Fastify()
    await app.register(sturdy, {
      middleware: [
        async (ex, next) => {
          seen.push(ex)
          await next()
        },
      ],
    })
    app.get('/', async (request) => ({ same: exchangeOf(request) === seen[0] }))
    const url = await serve(app)
    expect(await (await fetch(url)).json()).toEqual({ same: true })
  })
})
