/**
 * What the two hand-written ceilings (`node-stack` on raw node:http and
 * `hono-handwritten-stack` as one Hono middleware) share, so they do exactly the same work.
 */
import type { Histogram as HistogramType } from 'prom-client'
import { Histogram, Registry } from 'prom-client'

/** An incoming request id reused as it is: the characters of Sturdy's own check, 1–128 of them. */
export const SAFE_ID: RegExp = /^[A-Za-z0-9._:+=/-]{1,128}$/

/** Reads W3C trace headers straight from a Node request's header record. */
export const HEADER_GETTER: {
  keys(h: Record<string, unknown>): string[]
  get(h: Record<string, string | string[] | undefined>, k: string): string | string[] | undefined
} = {
  keys: (h) => Object.keys(h),
  get: (h, k) => h[k],
}

/** The request-duration histogram, in its own registry, with the stacks' buckets and labels. */
export function requestDuration(): HistogramType<'method' | 'route' | 'status_code'> {
  return new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [new Registry()],
  })
}
