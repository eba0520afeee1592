import type { Attributes } from '@opentelemetry/api'
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from './semconv.ts'

/**
 * Sets `server.address` and `server.port` from a `Host` header (`example.com`,
 * `example.com:8080`, `[::1]:8080`). The port is set only when the header carries one:
 * the default port of the scheme is a guess behind a proxy.
 */
export function addServerAddress(attributes: Attributes, host: string | undefined): void {
  if (host === undefined || host === '') return
  let address = host
  let port = ''
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']')
    if (end < 0) return
    address = host.slice(1, end)
    if (host.charCodeAt(end + 1) === 58 /* : */) port = host.slice(end + 2)
  } else {
    const colon = host.lastIndexOf(':')
    if (colon >= 0) {
      address = host.slice(0, colon)
      port = host.slice(colon + 1)
    }
  }
  if (address === '') return
  attributes[ATTR_SERVER_ADDRESS] = address
  const n = port === '' ? Number.NaN : Number(port)
  if (Number.isInteger(n) && n > 0 && n < 65536) attributes[ATTR_SERVER_PORT] = n
}
