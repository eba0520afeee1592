import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { negotiateFormat } from './negotiate.ts'

const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1'
const PROMETHEUS_2_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'prometheus', 'prometheus'],
    ['', 'openmetrics', 'openmetrics'],
    ['*/*', 'prometheus', 'prometheus'],
    ['*/*', 'openmetrics', 'openmetrics'],
    ['application/openmetrics-text; version=1.0.0', 'prometheus', 'openmetrics'],
    ['text/plain', 'openmetrics', 'prometheus'],
    ['text/plain;q=0.9, application/openmetrics-text;q=0.1', 'openmetrics', 'prometheus'],
    ['application/openmetrics-text;q=0, */*', 'openmetrics', 'prometheus'],
    ['application/openmetrics-text;q=0, text/plain', 'openmetrics', 'prometheus'],
    ['application/json', 'prometheus', 'prometheus'],
    ['APPLICATION/OpenMetrics-Text', 'prometheus', 'openmetrics'],
    [PROMETHEUS_2_ACCEPT, 'prometheus', 'openmetrics'],
    [PROMETHEUS_3_ACCEPT, 'prometheus', 'openmetrics'],
  ] as const)('Accept %j with a %s registry → %s', (accept, own, expected) => {
    expect(negotiateFormat(accept, own)).toBe(expected)
  })

  it('never throws and answers one of the two formats, whatever the header', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('prometheus', 'openmetrics'), (accept, own) => {
        const format = negotiateFormat(accept, own as 'prometheus' | 'openmetrics')
        expect(['prometheus', 'openmetrics']).toContain(format)
      }),
    )
  })

  it('follows the higher q of the two specific ranges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.boolean(),
        (a, b, omFirst) => {
          const om = `application/openmetrics-text;q=${a / 1000}`
          const tp = `text/plain;version=0.0.4;q=${b / 1000}`
          const accept = omFirst ? `${om}, ${tp}` : `${tp}, ${om}`
          const expected = a > b ? 'openmetrics' : a < b ? 'prometheus' : 'prometheus'
          expect(negotiateFormat(accept, 'prometheus')).toBe(expected)
        },
      ),
    )
  })
})
