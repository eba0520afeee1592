import { serve } from '@hono/node-server'
import { createApp } from './app.ts'
import { memoryStore } from './store.ts'

const port = Number(process.env.PORT ?? 3000)
const hostname = process.env.HOST ?? '127.0.0.1'

const app = createApp({
  store: memoryStore([{ id: '1', name: 'Ada Lovelace', email: 'ada@example.com' }]),
})

const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(`sturdy example listening on http://${hostname}:${info.port}`)
  console.log(`  try: curl http://${hostname}:${info.port}/users/1`)
})

// Stop accepting, let in-flight requests finish, then exit; a second signal forces it.
let stopping = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1)
    stopping = true
    server.close(() => process.exit(0))
  })
}
