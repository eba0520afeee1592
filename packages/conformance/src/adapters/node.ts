import type { IncomingMessage } from 'node:http'
import { createServer } from 'node:http'
import { setRoute, sturdy, valuesOf } from '@sturdy/node'
import type { AppSpec, FrameworkAdapter, RouteSpec, Served } from '../harness.ts'
import { callHandler, closeServer, listen } from '../harness.ts'

interface Compiled {
  route: RouteSpec
  template: string
  match: RegExp
  names: string[]
}

/** The smallest router that calls `setRoute()`, as a hand-written node:http app would. */
function compile(route: RouteSpec): Compiled {
  const template = (route.prefix ?? '') + route.path
  const names: string[] = []
  const source = template.replace(/:(\w+)/g, (_, name: string) => {
    names.push(name)
    return '([^/]+)'
  })
  return { route, template, match: new RegExp(`^${source}$`), names }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      data += chunk
    })
    req.on('end', () => resolve(data === '' ? undefined : JSON.parse(data)))
    req.on('error', reject)
  })
}

/** Plain node:http through `@sturdy/node`, with `setRoute()` from a tiny router. */
export const nodeAdapter: FrameworkAdapter = {
  name: 'node',
  errorStatus: 500,
  async serve(spec: AppSpec): Promise<Served> {
    const routes = spec.routes.map(compile)
    const server = createServer(
      sturdy(
        (req, res) => {
          const path = (req.url ?? '/').split('?')[0] as string
          for (const c of routes) {
            const m = c.match.exec(path)
            if (m === null || c.route.method !== req.method) continue
            setRoute(req, c.template)
            const params = Object.fromEntries(c.names.map((n, i) => [n, m[i + 1] as string]))
            return callHandler(
              c.route.handler,
              { params, value: (key) => valuesOf(req)[key], body: () => readJson(req) },
              (r) => {
                const headers: Record<string, string> = { ...r.headers }
                let body: string
                if (r.json !== undefined) {
                  headers['content-type'] = 'application/json'
                  body = JSON.stringify(r.json)
                } else {
                  headers['content-type'] = 'text/plain; charset=utf-8'
                  body = r.text ?? ''
                }
                res.writeHead(r.status ?? 200, headers)
                res.end(body)
              },
              () => undefined,
            )
          }
          res.writeHead(404, { 'content-type': 'text/plain' })
          res.end('Not Found')
        },
        { middleware: spec.middleware },
      ),
    )
    const url = await listen(server)
    return { url, server, close: () => closeServer(server) }
  },
}
