import { describe, expect, it } from 'vitest'
import { parseAutocannon, parseWrk, parseWrkDuration } from './wrk.ts'

const WRK = `Running 3s test @ http://127.0.0.1:3000/users/42
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.41ms  516.33us   9.75ms   87.06%
    Req/Sec    20.93k     1.10k   22.53k    80.00%
  Latency Distribution
     50%  635.00us
     75%    2.54ms
     90%    2.85ms
     99%    1.02s
  62477 requests in 3.00s, 9.83MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  20817.06
Transfer/sec:      3.28MB
`

describe('parseWrk', () => {
  it('reads throughput, percentiles in any unit, and errors', () => {
    expect(parseWrk(WRK)).toEqual({
      requestsPerSec: 20817.06,
      requests: 62477,
      p50Ms: 0.635,
      p99Ms: 1020,
      non2xx: 7,
      socketErrors: 5,
    })
  })

  it('reports zero errors when wrk printed no error lines', () => {
    const clean = WRK.replace(/ {2}Socket errors.*\n/, '').replace(/ {2}Non-2xx.*\n/, '')
    const r = parseWrk(clean)
    expect([r.non2xx, r.socketErrors]).toEqual([0, 0])
  })

  it('refuses output without a throughput line instead of reporting zero', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(
      /Requests\/sec/,
    )
  })
})

describe('parseWrkDuration', () => {
  it('converts units to milliseconds', () => {
    expect(parseWrkDuration('500.00us')).toBe(0.5)
    expect(parseWrkDuration('2.5ms')).toBe(2.5)
    expect(parseWrkDuration('1.00m')).toBe(60_000)
    expect(parseWrkDuration('fast')).toBeUndefined()
  })
})

describe('parseAutocannon', () => {
  it('reads the --json summary, after any banner text', () => {
    const text = `Running 1s test\n${JSON.stringify({
      requests: { average: 1234.5, total: 1234 },
      latency: { p50: 3, p99: 9 },
      non2xx: 1,
      errors: 2,
      timeouts: 1,
    })}`
    expect(parseAutocannon(text)).toEqual({
      requestsPerSec: 1234.5,
      requests: 1234,
      p50Ms: 3,
      p99Ms: 9,
      non2xx: 1,
      socketErrors: 3,
    })
  })
})
