/**
 * A free 127.0.0.1 port for a test to hand to a process it starts — the one place tests
 * get such ports.
 *
 * Asking the OS for port 0 and closing the socket leaves a window: until the process
 * listens, the port is back in the ephemeral range, where the kernel hands it to the next
 * outgoing connection or `listen(0)` of any process on the host (a CI run once lost a
 * service to `EADDRINUSE` that way). So on Linux the port is drawn at random from below
 * the ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), which the kernel never
 * assigns by itself, and checked free by binding it. Elsewhere, or when that range is too
 * small, it falls back to the OS's pick.
 */
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'

/** The lowest port drawn: above the well-known and common service ports. */
const LOWEST = 10_000
/** Draws before falling back to the OS's pick. */
const ATTEMPTS = 50

/** A port nobody listens on right now, and one the kernel does not hand out by itself. */
export async function freePort(): Promise<number> {
  const below = ephemeralLow()
  if (below !== undefined && below - LOWEST >= 1_000) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = await bound(LOWEST + Math.floor(Math.random() * (below - LOWEST)))
      if (port !== undefined) return port
    }
  }
  const port = await bound(0)
  if (port === undefined) throw new Error('no free port on 127.0.0.1')
  return port
}

/** The first port of the kernel's ephemeral range, when it can be read. */
function ephemeralLow(): number | undefined {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    )
    return Number.isInteger(low) && low > 0 ? low : undefined
  } catch {
    return undefined
  }
}

/**
 * Listens on `port` (0: the OS's pick) and closes again: the port it got, or undefined
 * when it was taken.
 */
async function bound(port: number): Promise<number | undefined> {
  const server = createServer()
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (!listening) return undefined
  const got = (server.address() as AddressInfo).port
  server.close()
  await once(server, 'close')
  return got
}
