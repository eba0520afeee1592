import type { Exchange, Middleware, Next } from '@sturdy/core'
import { problemResponse, statusTitle } from '@sturdy/core'
import type { ChaosControl, ChaosPatch, ChaosSettings } from './control.ts'
import { checkLatency } from './control.ts'

/** What the admin asks `authorize` about. */
export interface AdminRequest {
  readonly method: string
  /** A request header (name case-insensitive), or undefined. */
  header(name: string): string | undefined
}

/** Options of `chaosAdmin` and `chaosAdminHandler`. */
export interface ChaosAdminOptions {
  /** The chaos policies and middleware it reads and changes, addressed by their (unique) names. */
  controls: readonly ChaosControl[]
  /**
   * Must be `true` for the admin to answer anything: off, the middleware passes every
   * request on and the handler answers 404. Opt in per environment, e.g.
   * `enabled: process.env.CHAOS_ADMIN === '1'`. @default false
   */
  enabled?: boolean
  /** Where it answers: `path` and below. @default '/_chaos' */
  path?: string
  /** Decides whether a request may read or change settings (check a token, a network); false answers 403. @default undefined (anyone who reaches it) */
  authorize?: (request: AdminRequest) => boolean | PromiseLike<boolean>
  /** The largest `latency-ms` a request may set. @default 60000 */
  maxLatencyMs?: number
}

/** A framework-neutral admin answer. */
interface Answer {
  readonly status: number
  readonly body: string
  readonly headers: Record<string, string>
}

/** The settings a request may change, as path segments, with their parsers. */
const SETTINGS = ['enabled', 'injection-rate', 'latency-ms'] as const
type Setting = (typeof SETTINGS)[number]

const JSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
}

/** The longest path the admin reads; anything longer is not one of its URLs. */
const MAX_PATH = 512

/**
 * Chaos admin as Sturdy middleware, answering under `path` (other requests go on):
 *
 * | request | answer |
 * |---|---|
 * | `GET {path}` | `200 { "chaos": [settings, ...] }` |
 * | `GET {path}/{name}` | `200 settings`, or 404 |
 * | `PUT {path}/{name}/enabled/{true\|false}` | `200 settings` |
 * | `PUT {path}/{name}/injection-rate/{0..1}` | `200 settings` |
 * | `PUT {path}/{name}/latency-ms/{ms or min-max}` | `200 settings` (latency chaos only) |
 * | `PUT {path}/*\/{enabled\|injection-rate}/{value}` | `200 { "chaos": [...] }`, every control |
 *
 * Values travel in the path, so the same URLs work with a body-less Exchange and with
 * curl (`curl -X PUT host/_chaos/payments-slow/enabled/false`). Bad input answers
 * problem+json (400, 404, 405 with `Allow`, 403 from `authorize`) and changes nothing.
 * Off unless `enabled: true`.
 *
 * @param options see `ChaosAdminOptions`
 * @returns a named middleware
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { chaosAdmin, chaosMiddleware } from '@sturdy/chaos'
 *
 * const slow = chaosMiddleware({ name: 'slow', kind: 'latency', latencyMs: 300, enabled: false })
 * const admin = chaosAdmin({
 *   controls: [slow],
 *   enabled: process.env.CHAOS_ADMIN === '1',
 *   authorize: (req) => req.header('authorization') === `Bearer ${process.env.CHAOS_TOKEN}`,
 * })
 * const app = new Hono().use(sturdy(admin, slow))
 */
export function chaosAdmin(options: ChaosAdminOptions): Middleware {
  const admin = compileAdmin(options)
  return async function chaosAdmin(ex: Exchange, next: Next): Promise<void> {
    if (!admin.enabled || !admin.owns(ex.path)) return next()
    const answer = await admin.answer(ex.method, ex.path, ex)
    ex.respond(answer.status, ex.method === 'HEAD' ? null : answer.body, answer.headers)
  }
}

/**
 * The same admin as a framework-neutral fetch handler: mount it wherever a
 * `(Request) => Promise<Response>` fits (`app.all('/_chaos/*', (c) => handler(c.req.raw))`
 * in Hono, Bun.serve, Deno.serve). A request outside `path`, or any request while
 * disabled, answers 404.
 *
 * @param options see `ChaosAdminOptions`
 * @returns the handler
 */
export function chaosAdminHandler(
  options: ChaosAdminOptions,
): (request: Request) => Promise<Response> {
  const admin = compileAdmin(options)
  return async function chaosAdminHandler(request: Request): Promise<Response> {
    let path: string
    try {
      path = new URL(request.url).pathname
    } catch {
      path = ''
    }
    const answer =
      admin.enabled && admin.owns(path)
        ? await admin.answer(request.method, path, {
            header: (name) => request.headers.get(name) ?? undefined,
          })
        : problem(404, 'No chaos admin here')
    return new Response(request.method === 'HEAD' ? null : answer.body, {
      status: answer.status,
      headers: answer.headers,
    })
  }
}

interface CompiledAdmin {
  readonly enabled: boolean
  owns(path: string): boolean
  answer(method: string, path: string, request: Pick<AdminRequest, 'header'>): Promise<Answer>
}

function compileAdmin(options: ChaosAdminOptions): CompiledAdmin {
  const byName = new Map<string, ChaosControl>()
  for (const control of options.controls ?? []) {
    if (byName.has(control.name)) {
      throw new TypeError(`chaos names must be unique; "${control.name}" appears twice`)
    }
    byName.set(control.name, control)
  }
  const base = (options.path ?? '/_chaos').replace(/\/+$/, '')
  if (!base.startsWith('/') || base.length > 128) {
    throw new TypeError(`admin path must start with "/", got ${JSON.stringify(options.path)}`)
  }
  const maxLatencyMs = options.maxLatencyMs ?? 60_000
  if (!(maxLatencyMs >= 0 && Number.isFinite(maxLatencyMs))) {
    throw new RangeError(`maxLatencyMs must be a finite number >= 0, got ${maxLatencyMs}`)
  }
  const authorize = options.authorize
  const all = (): Answer => ok({ chaos: [...byName.values()].map((c) => c.settings()) })

  return {
    enabled: options.enabled === true,
    owns: (path) => path.length <= MAX_PATH && (path === base || path.startsWith(`${base}/`)),
    async answer(method, path, request) {
      if (authorize !== undefined) {
        let allowed = false
        try {
          const header = (name: string): string | undefined => request.header(name)
          allowed = (await authorize({ method, header })) === true
        } catch {
          // A failing check denies: the admin must fail closed.
        }
        if (!allowed) return problem(403, 'Not allowed to use the chaos admin')
      }
      const segments = decode(path.slice(base.length).split('/').slice(1))
      if (segments === undefined) return problem(400, 'Malformed path')
      const read = method === 'GET' || method === 'HEAD'
      if (segments.length === 0 || (segments.length === 1 && segments[0] === '')) {
        return read ? all() : notAllowed('GET, HEAD')
      }
      const [name, setting, value] = segments as [string, string?, string?]
      const targets = name === '*' ? [...byName.values()] : [byName.get(name)]
      if (name !== '*' && targets[0] === undefined) {
        return problem(404, `No chaos named ${JSON.stringify(name)}`)
      }
      if (segments.length === 1) {
        if (name === '*') return read ? all() : notAllowed('GET, HEAD')
        return read ? ok((targets[0] as ChaosControl).settings()) : notAllowed('GET, HEAD')
      }
      if (segments.length !== 3) return problem(404, 'Expected {name}/{setting}/{value}')
      if (method !== 'PUT') return notAllowed('PUT')
      if (!isSetting(setting)) {
        return problem(
          400,
          `Unknown setting ${JSON.stringify(setting)}; one of ${SETTINGS.join(', ')}`,
        )
      }
      if (name === '*' && setting === 'latency-ms') {
        return problem(400, 'latency-ms is set per chaos, not for all at once')
      }
      const patch = parse(setting, value as string, maxLatencyMs)
      if (typeof patch === 'string') return problem(400, patch)
      const list = targets as ChaosControl[]
      // All or nothing: check every target before changing any.
      for (const control of list) {
        if (setting === 'latency-ms' && control.settings().kind !== 'latency') {
          return problem(400, `${control.name} injects ${control.settings().kind}, not latency`)
        }
      }
      let changed: ChaosSettings[]
      try {
        changed = list.map((control) => control.update(patch))
      } catch (error) {
        return problem(400, error instanceof Error ? error.message : 'Invalid setting')
      }
      return name === '*' ? ok({ chaos: changed }) : ok(changed[0])
    },
  }
}

function isSetting(value: string | undefined): value is Setting {
  return (SETTINGS as readonly (string | undefined)[]).includes(value)
}

/** Parses a setting's value; a string is the reason it is invalid. */
function parse(setting: Setting, value: string, maxLatencyMs: number): ChaosPatch | string {
  switch (setting) {
    case 'enabled':
      if (value === 'true') return { enabled: true }
      if (value === 'false') return { enabled: false }
      return `enabled must be true or false, got ${JSON.stringify(value)}`
    case 'injection-rate': {
      const rate = number(value)
      if (rate === undefined || rate > 1) {
        return `injection-rate must be a number in [0, 1], got ${JSON.stringify(value)}`
      }
      return { injectionRate: rate }
    }
    case 'latency-ms': {
      const [min, max, extra] = value.split('-').map(number)
      if (min === undefined || extra !== undefined || (value.includes('-') && max === undefined)) {
        return `latency-ms must be a number of ms or min-max, got ${JSON.stringify(value)}`
      }
      try {
        return { latencyMs: checkLatency({ min, max: max ?? min }, maxLatencyMs) }
      } catch (error) {
        return (error as Error).message
      }
    }
  }
}

/** A plain decimal number (no exponent, no sign, no hex): what a setting value may be. */
function number(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,9}(\.\d{1,9})?$/.test(text)) return undefined
  return Number(text)
}

function decode(segments: readonly string[]): string[] | undefined {
  try {
    return segments.map((s) => decodeURIComponent(s))
  } catch {
    return undefined
  }
}

function ok(body: unknown): Answer {
  return { status: 200, body: JSON.stringify(body), headers: { ...JSON_HEADERS } }
}

function notAllowed(allow: string): Answer {
  const answer = problem(405, `Use ${allow}`)
  return { ...answer, headers: { ...answer.headers, allow } }
}

function problem(status: number, detail: string): Answer {
  const answer = problemResponse({ title: statusTitle(status), status, detail })
  return { ...answer, headers: { ...answer.headers, 'cache-control': 'no-store' } }
}
