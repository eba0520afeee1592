import type { Exchange } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { clientIp, UNKNOWN_CLIENT } from './client-ip.ts'

function ex(remoteAddress: string | undefined, forwarded?: string): Exchange {
  return {
    remoteAddress,
    header: (name: string) => (name === 'x-forwarded-for' ? forwarded : undefined),
  } as unknown as Exchange
}

describe('clientIp', () => {
  it('uses the socket peer and ignores X-Forwarded-For by default', () => {
    const key = clientIp()
    expect(key(ex('203.0.113.9'))).toBe('203.0.113.9')
    expect(key(ex('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9')
    expect(key(ex('::ffff:203.0.113.9'))).toBe('203.0.113.9')
  })

  it('keys IPv6 clients by their /56 (configurable)', () => {
    expect(clientIp()(ex('2001:db8:1234:56ff:1::1'))).toBe('2001:db8:1234:5600::/56')
    expect(clientIp()(ex('2001:db8:1234:5601::9'))).toBe('2001:db8:1234:5600::/56')
    expect(clientIp({ ipv6Subnet: 64 })(ex('2001:db8:1234:56ff:1::1'))).toBe(
      '2001:db8:1234:56ff::/64',
    )
    expect(clientIp({ ipv6Subnet: 128 })(ex('2001:db8::1'))).toBe('2001:db8::1')
  })

  it('with a hop count, takes the entry the nearest trusted proxy appended', () => {
    const one = clientIp({ trustProxy: 1 })
    // the client forged the first entry; the load balancer appended the real address
    expect(one(ex('10.0.0.5', '6.6.6.6, 203.0.113.9'))).toBe('203.0.113.9')
    expect(one(ex('10.0.0.5', '203.0.113.9'))).toBe('203.0.113.9')
    const two = clientIp({ trustProxy: 2 })
    expect(two(ex('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.0.0.9'))).toBe('203.0.113.9')
    // fewer entries than proxies: the leftmost there is (it was written by a proxy)
    expect(two(ex('10.0.0.5', '203.0.113.9'))).toBe('203.0.113.9')
    // no header: the peer itself
    expect(one(ex('10.0.0.5'))).toBe('10.0.0.5')
  })

  it('with CIDRs, walks from the right past trusted proxies only', () => {
    const key = clientIp({ trustProxy: ['10.0.0.0/8', 'fd00::/8'] })
    expect(key(ex('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.1.2.3'))).toBe('203.0.113.9')
    // a peer outside the list is the client: its header is not believed
    expect(key(ex('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7')
    expect(key(ex('fd00::1', '2001:db8::1'))).toBe('2001:db8::/56')
    // garbage in the header ends the walk at the nearest trusted address
    expect(key(ex('10.0.0.5', 'garbage, 10.0.0.6'))).toBe('10.0.0.6')
    // everyone is trusted: an internal call, keyed by the first hop
    expect(key(ex('10.0.0.5', '10.0.0.1'))).toBe('10.0.0.1')
  })

  it('shares one key among requests with no known peer', () => {
    expect(clientIp()(ex(undefined))).toBe(UNKNOWN_CLIENT)
    expect(clientIp({ trustProxy: 1 })(ex(undefined, '203.0.113.9'))).toBe(UNKNOWN_CLIENT)
    expect(clientIp()(ex('not-an-ip'))).toBe(UNKNOWN_CLIENT)
  })

  it('refuses trustProxy: true and bad settings, saying what to pass instead', () => {
    expect(() => clientIp({ trustProxy: true as never })).toThrow(/number of proxies/)
    expect(() => clientIp({ trustProxy: -1 })).toThrow(RangeError)
    expect(() => clientIp({ trustProxy: ['10.0.0.0/40'] })).toThrow(/prefix length/)
    expect(() => clientIp({ ipv6Subnet: 0 })).toThrow(/ipv6Subnet/)
  })
})
