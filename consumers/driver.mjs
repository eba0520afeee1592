// Runs one README block (or imports one entry point) inside a consumer project, the same
// way under Node, Bun and Deno, and prints one result line. Copied into each temporary
// project by consumers/run.mjs; it imports nothing from this repository.
//
//   <runtime> driver.mjs entry <specifier>
//   <runtime> driver.mjs block <file.mjs> <routes-json>
//
// For a block it:
// - replaces fetch: calls to anything but the block's own servers never leave the process.
//   An "upstream" answers 200 {} at once ('ok'), or hangs until the caller's signal aborts
//   and otherwise fails as an unreachable host would after UPSTREAM_HANG_MS ('slow');
// - makes every server the block starts listen on 127.0.0.1, on a free port, and sends
//   the block's own connections to the port it asked for there (Node);
// - imports the block (top-level code and awaits run with the 'ok' upstream);
// - requests each route the block names, once with each upstream, against the servers it
//   started, or the `app` it declares (Hono: app.request(); Express/Fastify: listened here);
// - waits a grace period, so a crash from late work (an unhandled rejection after a
//   deadline answer) happens before the result line, then exits.
// The parent treats a non-zero exit, a missing result line, a request without an answer
// or a timeout as a failure. Any HTTP status is an answer: a README app without a
// deadline legitimately answers 500 when its upstream fails.

const UPSTREAM_HANG_MS = 2500
const REQUEST_TIMEOUT_MS = 15_000
const GRACE_MS = 600

const [mode, target, routesJson] = process.argv.slice(2)
const realFetch = globalThis.fetch.bind(globalThis)
const ownPorts = new Set()
const portMap = new Map() // port a block asked for -> port it got
const servers = []
let upstream = 'ok'

function done(result) {
  console.log(`@@sturdy-result ${JSON.stringify(result)}`)
  // README blocks leave servers, intervals and SIGTERM handlers behind: end here.
  setTimeout(() => process.exit(0), 10)
}

if (mode === 'entry') {
  const ns = await import(target)
  const names = Object.keys(ns)
  done({ exports: names.length, undefined: names.filter((n) => ns[n] === undefined) })
} else {
  await runBlock()
}

async function runBlock() {
  globalThis.fetch = stubFetch
  await patchListen()
  const mod = await import(new URL(target, `file://${process.cwd()}/`).href)
  await new Promise((r) => setTimeout(r, 50))
  const targets = await targetsOf(mod.__sturdyApp)
  const routes = JSON.parse(routesJson ?? '[]')
  const requests = []
  for (const scenario of ['ok', 'slow']) {
    upstream = scenario
    if (targets.length === 0 || routes.length === 0) break
    const t = targets[0]
    requests.push(...(await Promise.all(routes.map((r) => request(t, r.method, r.path, scenario)))))
  }
  await new Promise((r) => setTimeout(r, GRACE_MS))
  done({
    target: targets[0]?.kind ?? 'none',
    requests,
  })
}

async function stubFetch(input, init) {
  const url = new URL(typeof input === 'string' ? input : (input.href ?? input.url))
  if (
    ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) &&
    ownPorts.has(Number(url.port))
  ) {
    return realFetch(input, init)
  }
  const signal = init?.signal ?? (typeof input === 'object' ? input.signal : undefined)
  if (upstream === 'ok') {
    signal?.throwIfAborted()
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })
  }
  return new Promise((_, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      reject(
        new TypeError('fetch failed', { cause: new Error('consumer-test upstream: no answer') }),
      )
    }, UPSTREAM_HANG_MS)
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Servers listen on 127.0.0.1 and a free port; a connection the block makes to the port
 * it asked for (`http://127.0.0.1:3000` after `listen(3000)`) reaches that server.
 */
async function patchListen() {
  if (globalThis.Bun !== undefined || globalThis.Deno !== undefined) return
  const net = await import('node:net')
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function loopbackListen(...args) {
    const cb = typeof args.at(-1) === 'function' ? args.pop() : undefined
    const first = args[0]
    const isPath = typeof first === 'string' && !/^\d+$/.test(first)
    const isHandle =
      typeof first === 'object' && first !== null && ('fd' in first || '_handle' in first)
    const isPathOptions = typeof first === 'object' && first !== null && 'path' in first
    if (isPath || isHandle || isPathOptions) return listen.call(this, ...args, ...(cb ? [cb] : []))
    const asked = Number(typeof first === 'object' && first !== null ? first.port : first) || 0
    const options = typeof first === 'object' && first !== null ? { ...first } : {}
    options.port = 0
    options.host = '127.0.0.1'
    delete options.ipv6Only
    servers.push(this)
    this.once('listening', () => {
      const port = this.address().port
      ownPorts.add(port)
      if (asked !== 0) {
        ownPorts.add(asked)
        portMap.set(asked, port)
      }
    })
    return listen.call(this, options, ...(cb ? [cb] : []))
  }
  const connect = net.Socket.prototype.connect
  net.Socket.prototype.connect = function mappedConnect(...args) {
    const first = args[0]
    // net.connect() hands over its normalized [options, callback] array.
    if (Array.isArray(first) && typeof first[0] === 'object' && first[0] !== null) {
      const port = portMap.get(Number(first[0].port))
      if (port !== undefined && isLoopback(first[0].host)) first[0] = { ...first[0], port }
    } else if (typeof first === 'object' && first !== null && 'port' in first) {
      const port = portMap.get(Number(first.port))
      if (port !== undefined && isLoopback(first.host)) args[0] = { ...first, port }
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      const port = portMap.get(Number(first))
      if (port !== undefined && isLoopback(typeof args[1] === 'string' ? args[1] : undefined)) {
        args[0] = port
      }
    }
    return connect.apply(this, args)
  }
}

function isLoopback(host) {
  return host === undefined || ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)
}

async function targetsOf(app) {
  const listening = servers.filter((s) => s.listening)
  if (listening.length > 0) {
    return listening.map((s) => ({ kind: 'server', port: s.address().port }))
  }
  if (app === undefined || app === null) return []
  if (typeof app.fetch === 'function' && typeof app.request === 'function') {
    return [{ kind: 'hono', app }]
  }
  // Express (a function with listen) or Fastify (an object with inject and listen).
  if (typeof app.listen === 'function') {
    if (typeof app.inject === 'function') await app.listen({ port: 0 })
    else await new Promise((resolve) => app.listen(0, resolve))
    const s = servers.filter((x) => x.listening)[0]
    if (s !== undefined) return [{ kind: 'server', port: s.address().port }]
  }
  return []
}

async function request(t, method, path, scenario) {
  const started = performance.now()
  const entry = { scenario, method, path }
  let timer
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)),
        REQUEST_TIMEOUT_MS,
      )
    })
    const init = { method, headers: method === 'GET' ? {} : { 'content-type': 'application/json' } }
    if (method !== 'GET' && method !== 'HEAD') init.body = '{}'
    const res = await Promise.race([
      t.kind === 'hono'
        ? t.app.request(path, init)
        : realFetch(`http://127.0.0.1:${t.port}${path}`, init),
      timeout,
    ])
    entry.status = res.status
    // Never read a body: a stream (SSE) may not end. Cancelling it is the client leaving.
    res.body?.cancel().catch(() => {})
  } catch (error) {
    entry.error = String(error?.message ?? error)
  } finally {
    clearTimeout(timer)
  }
  entry.ms = Math.round(performance.now() - started)
  return entry
}
