import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort } from './processes.ts'

const RANGE = '/proc/sys/net/ipv4/ip_local_port_range'

describe('freePort', () => {
  it.runIf(existsSync(RANGE))(
    'draws below the kernel’s ephemeral range, where no outgoing connection or listen(0) lands',
    async () => {
      const low = Number(readFileSync(RANGE, 'utf8').split(/\s+/)[0])
      for (let i = 0; i < 20; i++) {
        const port = await freePort()
        expect(port).toBeGreaterThanOrEqual(10_000)
        expect(port).toBeLessThan(low)
      }
    },
  )

  it('gives a port a server can then listen on', async () => {
    const port = await freePort()
    const server = createServer().listen(port, '127.0.0.1')
    await once(server, 'listening')
    server.close()
    await once(server, 'close')
  })
})
