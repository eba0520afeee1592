// The image's HEALTHCHECK: liveness (/healthz) of the service this container runs
// (SERVICE; `all` is checked through the gateway), on its port. Exit 0 healthy, 1 not.
// The default ports are the app's own (apps/example/src/config.ts; a test compares them).
// HEALTHCHECK_TIMEOUT_MS: the probe's own timeout, under Docker's --timeout (3 s).
const PORTS = {
  gateway: ['GATEWAY_PORT', 3000],
  users: ['USERS_PORT', 3001],
  payments: ['PAYMENTS_PORT', 3002],
  delivery: ['DELIVERY_PORT', 3003],
}
const service =
  process.env.SERVICE === undefined || process.env.SERVICE === 'all'
    ? 'gateway'
    : process.env.SERVICE
const [variable, fallback] = PORTS[service] ?? PORTS.gateway
const port = Number(process.env[variable] || fallback)
try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
    signal: AbortSignal.timeout(Number(process.env.HEALTHCHECK_TIMEOUT_MS || 2000)),
  })
  process.exit(res.ok ? 0 : 1)
} catch {
  process.exit(1)
}
