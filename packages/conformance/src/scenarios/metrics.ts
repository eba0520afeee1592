/** `@sturdy/metrics`: the same RED series, labelled by route template, on every framework. */
import { httpMetrics } from '@sturdy/metrics'
import { Registry } from 'prom-client'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

/** The `_count` samples of the duration histogram and the active-requests gauge. */
function series(text: string): string[] {
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('http_server_request_duration_seconds_count') ||
        line.startsWith('http_server_active_requests'),
    )
    .sort()
}

export const metricsScenarios: Scenario[] = [
  {
    name: 'metrics: duration histogram by method/route/status, unmatched bucketed, active back to 0',
    async run(adapter) {
      const registry = new Registry()
      await withServer(
        adapter,
        {
          middleware: [httpMetrics({ registry })],
          routes: [
            { method: 'GET', path: '/users/:id', handler: () => ({ json: { ok: true } }) },
            {
              method: 'POST',
              prefix: '/api',
              path: '/orders/:id',
              handler: () => ({ status: 201, json: { ok: true } }),
            },
            {
              method: 'GET',
              path: '/boom',
              handler: () => {
                throw new Error('boom')
              },
            },
          ],
        },
        async (url) => {
          for (const [method, path] of [
            ['GET', '/users/1'],
            ['GET', '/users/2'],
            ['POST', '/api/orders/9'],
            ['GET', '/boom'],
            ['GET', '/nope/1'],
            ['GET', '/nope/2'],
          ] as const) {
            await (await fetch(`${url}${path}`, { method })).arrayBuffer()
          }
          expect(series(await registry.metrics())).toEqual(EXPECTED)
        },
      )
    },
  },
]

const EXPECTED: string[] = [
  'http_server_active_requests{method="GET"} 0',
  'http_server_active_requests{method="POST"} 0',
  'http_server_request_duration_seconds_count{method="GET",route="/boom",status_code="500"} 1',
  'http_server_request_duration_seconds_count{method="GET",route="/users/:id",status_code="200"} 2',
  'http_server_request_duration_seconds_count{method="GET",route="__unmatched__",status_code="404"} 2',
  'http_server_request_duration_seconds_count{method="POST",route="/api/orders/:id",status_code="201"} 1',
]
