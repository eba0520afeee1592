// The local upstream of the client part: node:http answering small JSON, keep-alive on.
import { createServer } from 'node:http'
import { announce, port, user } from '../lib/entry.ts'

const body = JSON.stringify(user('42'))
const server = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.listen(port(), '127.0.0.1', () =>
  announce(server, { missing: [], stack: ['node:http upstream'] }),
)
