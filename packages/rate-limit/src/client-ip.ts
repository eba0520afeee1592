import type { Exchange } from '@sturdy/core'
import type { IpBytes, IpRange } from './ip.ts'
import { formatIp, inRange, mask, parseIp, parseRange } from './ip.ts'

/** Options of `clientIp`. */
export interface ClientIpOptions {
  /**
   * Which proxies' `X-Forwarded-For` entries to believe. A number: how many proxies stand
   * in front of the app, each appending the address it saw (the client is that many
   * entries from the right, counting the socket's peer). A list of addresses or CIDR
   * ranges: the proxies known by address (the client is the first address, from the
   * right, outside the list). `true` is refused: it would believe whatever a client writes.
   * @default 0 (no proxy: the socket's peer address; the header is never read)
   */
  trustProxy?: number | readonly string[]
  /**
   * IPv6 clients are keyed by their prefix of this many bits: one subscriber usually holds
   * a whole /56 or /64, and would otherwise get a fresh quota per address. `128` keys
   * single addresses. @default 56
   */
  ipv6Subnet?: number
  /** The header the proxies append to. @default 'x-forwarded-for' */
  header?: string
}

/** The key of requests whose client address nobody reported (they share one quota). */
export const UNKNOWN_CLIENT = 'unknown'

/**
 * Builds a key function that names the client by IP address, with trusted proxies made
 * explicit. With no `trustProxy` it uses the connection's peer (`ex.remoteAddress`) and
 * never reads `X-Forwarded-For`: behind no proxy that header is whatever the client chose
 * to send. IPv4-mapped IPv6 is keyed as IPv4, IPv6 by its `/ipv6Subnet` prefix
 * (`2001:db8:0:100::/56`). A request whose address is unknown (an adapter that cannot
 * tell, `app.request()` in tests) gets `UNKNOWN_CLIENT`, so such requests share a quota
 * instead of escaping it.
 *
 * @param options see `ClientIpOptions`
 * @returns `(ex) => key`
 * @example
 * // behind one load balancer that appends the client's address to X-Forwarded-For
 * rateLimit({ key: clientIp({ trustProxy: 1 }) })
 * // behind proxies known by address
 * rateLimit({ key: clientIp({ trustProxy: ['10.0.0.0/8', 'fd00::/8'] }) })
 */
export function clientIp(options: ClientIpOptions = {}): (ex: Exchange) => string {
  const trust = options.trustProxy ?? 0
  if (typeof trust === 'boolean') {
    throw new TypeError(
      'clientIp: trustProxy: true would believe any X-Forwarded-For a client sends; pass the number of proxies in front of the app, or their addresses / CIDR ranges',
    )
  }
  const subnet = options.ipv6Subnet ?? 56
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 128) {
    throw new RangeError(`clientIp: ipv6Subnet must be an integer in 1..128, got ${subnet}`)
  }
  const header = (options.header ?? 'x-forwarded-for').toLowerCase()
  const key = (bytes: IpBytes | undefined): string => {
    if (bytes === undefined) return UNKNOWN_CLIENT
    if (bytes.length === 4 || subnet === 128) return formatIp(bytes)
    return `${formatIp(mask(bytes, subnet))}/${subnet}`
  }

  if (typeof trust === 'number') {
    if (!Number.isInteger(trust) || trust < 0) {
      throw new RangeError(`clientIp: trustProxy must be a whole number of proxies, got ${trust}`)
    }
    if (trust === 0) {
      return function clientIpKey(ex) {
        return key(peer(ex))
      }
    }
    return function clientIpKey(ex) {
      const chain = forwardedChain(ex, header)
      if (chain === undefined) return UNKNOWN_CLIENT
      // chain[last] is the socket's peer; each trusted proxy adds one entry to its left.
      const from = Math.max(0, chain.length - 1 - trust)
      return key(firstValid(chain, from))
    }
  }

  const ranges: IpRange[] = trust.map(parseRange)
  const trusted = (bytes: IpBytes): boolean => ranges.some((r) => inRange(bytes, r))
  return function clientIpKey(ex) {
    const chain = forwardedChain(ex, header)
    if (chain === undefined) return UNKNOWN_CLIENT
    let i = chain.length - 1
    for (; i >= 0; i--) {
      const bytes = parseIp(chain[i] as string)
      // An entry that is not an address ends the walk: the nearest trusted one stands in.
      if (bytes === undefined) return key(firstValid(chain, i + 1))
      if (!trusted(bytes)) return key(bytes)
    }
    // Every hop is a trusted proxy: the request came from inside; key the first of them.
    return key(firstValid(chain, 0))
  }
}

function peer(ex: Exchange): IpBytes | undefined {
  const address = ex.remoteAddress
  return address === undefined ? undefined : parseIp(address)
}

/**
 * The `X-Forwarded-For` entries, oldest first, then the socket's peer. Undefined when the
 * peer is unknown: without it no entry can be trusted.
 */
function forwardedChain(ex: Exchange, header: string): string[] | undefined {
  const address = ex.remoteAddress
  if (address === undefined) return undefined
  const forwarded = ex.header(header)
  const chain =
    forwarded === undefined
      ? []
      : forwarded
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
  chain.push(address)
  return chain
}

/** The first entry at or after `from` that is an address. */
function firstValid(chain: readonly string[], from: number): IpBytes | undefined {
  for (let i = from; i < chain.length; i++) {
    const bytes = parseIp(chain[i] as string)
    if (bytes !== undefined) return bytes
  }
  return undefined
}
