// Contender: bare node:http, the floor every framework is measured against.
import { createServer } from 'node:http'
import { announce, port, user } from '../lib/entry.ts'

const ROUTE = /^\/users\/([^/?]+)$/

const server = createServer((req, res) => {
  const m = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null
  if (m === null) {
    res.writeHead(404).end()
    return
  }
  const body = JSON.stringify(user(m[1] as string))
  res.writeHead(200, { 'content-type': 'application/json' }).end(body)
})
server.listen(port(), '127.0.0.1', () => announce(server, { missing: [], stack: ['node:http'] }))
