/**
 * IP addresses and CIDR ranges, in plain code (no `node:net`), so the client-address key
 * runs on every runtime. Addresses are byte arrays: 4 bytes for IPv4 (IPv4-mapped IPv6
 * addresses included), 16 for IPv6.
 */

/** An address as bytes. */
export type IpBytes = Uint8Array

/** A range: the first `bits` bits of `bytes`. */
export interface IpRange {
  readonly bytes: IpBytes
  readonly bits: number
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const V4_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/
const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/
const HEX_GROUP = /^[0-9a-f]{1,4}$/i

/**
 * Parses an address as it appears on a socket or in `X-Forwarded-For`: IPv4 (with an
 * optional `:port`), IPv6 (optionally `[bracketed]` with a port, with a `%zone`, or ending
 * in dotted IPv4). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) comes back as IPv4.
 *
 * @param text the address
 * @returns its bytes, or undefined when it is not an address
 */
export function parseIp(text: string): IpBytes | undefined {
  let s = text.trim()
  const bracketed = BRACKETED.exec(s)
  if (bracketed !== null) s = bracketed[1] as string
  else {
    const withPort = V4_PORT.exec(s)
    if (withPort !== null) s = withPort[1] as string
  }
  if (s.includes(':')) return parseV6(s)
  return parseV4(s)
}

function parseV4(s: string): IpBytes | undefined {
  const m = V4.exec(s)
  if (m === null) return undefined
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1])
    if (n > 255) return undefined
    bytes[i] = n
  }
  return bytes
}

function parseV6(text: string): IpBytes | undefined {
  const zone = text.indexOf('%')
  const s = zone === -1 ? text : text.slice(0, zone)
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const head = groups(halves[0] as string)
  const tail = halves.length === 2 ? groups(halves[1] as string) : []
  if (head === undefined || tail === undefined) return undefined
  const present = head.length + tail.length
  if (halves.length === 2 ? present > 7 : present !== 8) return undefined
  const words = [...head, ...new Array<number>(8 - present).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = (words[i] as number) >> 8
    bytes[i * 2 + 1] = (words[i] as number) & 0xff
  }
  const mapped =
    bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  return mapped ? bytes.slice(12) : bytes
}

/** 16-bit groups of one side of `::`; a dotted IPv4 may end the address. */
function groups(part: string): number[] | undefined {
  if (part === '') return []
  const out: number[] = []
  const items = part.split(':')
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as string
    if (i === items.length - 1 && item.includes('.')) {
      const v4 = parseV4(item)
      if (v4 === undefined) return undefined
      out.push(
        ((v4[0] as number) << 8) | (v4[1] as number),
        ((v4[2] as number) << 8) | (v4[3] as number),
      )
    } else if (HEX_GROUP.test(item)) {
      out.push(Number.parseInt(item, 16))
    } else {
      return undefined
    }
  }
  return out
}

/**
 * Parses `10.0.0.0/8`, `fd00::/8`, or a single address (a range of one).
 *
 * @param text the range
 * @returns the range
 * @throws TypeError when `text` is not an address or range
 */
export function parseRange(text: string): IpRange {
  const slash = text.indexOf('/')
  const bytes = parseIp(slash === -1 ? text : text.slice(0, slash))
  if (bytes === undefined) throw new TypeError(`not an IP address or CIDR range: "${text}"`)
  const max = bytes.length * 8
  let bits = max
  if (slash !== -1) {
    bits = Number(text.slice(slash + 1))
    // An IPv4-mapped range (::ffff:10.0.0.0/104) counts the 96 bits of its prefix.
    if (bytes.length === 4 && text.slice(0, slash).includes(':')) bits -= 96
    if (!Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new TypeError(`bad prefix length in CIDR range: "${text}"`)
    }
  }
  return { bytes: mask(bytes, bits), bits }
}

/** True when `ip` lies in `range` (IPv4 never matches an IPv6 range, and back). */
export function inRange(ip: IpBytes, range: IpRange): boolean {
  if (ip.length !== range.bytes.length) return false
  const masked = mask(ip, range.bits)
  for (let i = 0; i < masked.length; i++) if (masked[i] !== range.bytes[i]) return false
  return true
}

/** `bytes` with every bit after the first `bits` cleared. */
export function mask(bytes: IpBytes, bits: number): IpBytes {
  const out = new Uint8Array(bytes)
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    out[i] = (out[i] as number) & ((0xff << (8 - keep)) & 0xff)
  }
  return out
}

/** The canonical text of an address: dotted IPv4, or RFC 5952 IPv6 (lower case, `::`). */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.')
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number))
  // The longest run of two or more zero groups (the first, on a tie) becomes `::`.
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = words.map((w) => w.toString(16))
  if (best === -1) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}
