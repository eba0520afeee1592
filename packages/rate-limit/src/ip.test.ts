import { describe, expect, it } from 'vitest'
import { formatIp, inRange, parseIp, parseRange } from './ip.ts'

const text = (s: string): string | undefined => {
  const bytes = parseIp(s)
  return bytes === undefined ? undefined : formatIp(bytes)
}

describe('IP addresses', () => {
  it('parses IPv4, with or without a port', () => {
    expect(text('203.0.113.9')).toBe('203.0.113.9')
    expect(text(' 203.0.113.9:4711 ')).toBe('203.0.113.9')
    expect(text('256.1.1.1')).toBeUndefined()
    expect(text('1.2.3')).toBeUndefined()
  })

  it('parses IPv6 in every spelling, to one canonical form', () => {
    expect(text('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1')
    expect(text('2001:db8::1')).toBe('2001:db8::1')
    expect(text('[2001:db8::1]:443')).toBe('2001:db8::1')
    expect(text('fe80::1%eth0')).toBe('fe80::1')
    expect(text('::')).toBe('::')
    expect(text('::1')).toBe('::1')
    expect(text('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3')
    expect(text('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221')
    expect(text('1::2::3')).toBeUndefined()
    expect(text('12345::')).toBeUndefined()
    expect(text('1:2:3:4:5:6:7')).toBeUndefined()
    expect(text('not an address')).toBeUndefined()
  })

  it('reads IPv4-mapped IPv6 as IPv4', () => {
    expect(text('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(text('::ffff:c000:201')).toBe('192.0.2.1')
  })

  it('matches CIDR ranges of either family, never across families', () => {
    const ten = parseRange('10.0.0.0/8')
    expect(inRange(parseIp('10.200.1.2') as Uint8Array, ten)).toBe(true)
    expect(inRange(parseIp('11.0.0.1') as Uint8Array, ten)).toBe(false)
    expect(inRange(parseIp('::ffff:10.1.1.1') as Uint8Array, ten)).toBe(true)
    const ula = parseRange('fd00::/8')
    expect(inRange(parseIp('fd12:3456::1') as Uint8Array, ula)).toBe(true)
    expect(inRange(parseIp('10.0.0.1') as Uint8Array, ula)).toBe(false)
    const one = parseRange('192.0.2.7')
    expect(inRange(parseIp('192.0.2.7') as Uint8Array, one)).toBe(true)
    expect(inRange(parseIp('192.0.2.8') as Uint8Array, one)).toBe(false)
    expect(inRange(parseIp('172.20.0.1') as Uint8Array, parseRange('172.16.0.0/12'))).toBe(true)
    expect(inRange(parseIp('10.0.0.1') as Uint8Array, parseRange('::ffff:10.0.0.0/104'))).toBe(true)
  })

  it('refuses bad ranges with a clear error', () => {
    expect(() => parseRange('10.0.0.0/33')).toThrow(/prefix length/)
    expect(() => parseRange('proxy.internal')).toThrow(/not an IP address/)
  })
})
