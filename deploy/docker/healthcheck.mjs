// The image's HEALTHCHECK: liveness of the service this container runs (SERVICE; `all`
// is checked through the gateway), on its port. Exit 0 healthy, 1 not. HTTP services
// answer GET /healthz; users speaks gRPC over cleartext HTTP/2 only, so it gets
// grpc.health.v1 Check of its UserService (liveness: it does not run the readiness
// checks, so a database outage does not get the container restarted).
// The default ports are the app's own (apps/example/src/config.ts; a test compares them).
// HEALTHCHECK_TIMEOUT_MS: the probe's own timeout, under Docker's --timeout (3 s).
import { connect } from 'node:http2'

const PORTS = {
  gateway: ['GATEWAY_PORT', 3000],
  users: ['USERS_PORT', 3001],
  payments: ['PAYMENTS_PORT', 3002],
  delivery: ['DELIVERY_PORT', 3003],
}
const GRPC_SERVICE = 'sturdy.example.user.v1.UserService'
const service =
  process.env.SERVICE === undefined || process.env.SERVICE === 'all'
    ? 'gateway'
    : process.env.SERVICE
const [variable, fallback] = PORTS[service] ?? PORTS.gateway
const port = Number(process.env[variable] || fallback)
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 2000)
setTimeout(() => process.exit(1), timeoutMs).unref()

try {
  process.exit((service === 'users' ? await grpcServing() : await httpOk()) ? 0 : 1)
} catch {
  process.exit(1)
}

async function httpOk() {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
    signal: AbortSignal.timeout(timeoutMs),
  })
  return res.ok
}

function grpcServing() {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`)
    session.on('error', reject)
    const name = Buffer.from(GRPC_SERVICE)
    // One length-prefixed message: HealthCheckRequest { string service = 1 }.
    const frame = Buffer.concat([
      Buffer.from([0, 0, 0, 0, name.length + 2, 0x0a, name.length]),
      name,
    ])
    const call = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
    })
    const chunks = []
    let status = ''
    call.on('response', (h) => (status = h['grpc-status'] ?? status))
    call.on('trailers', (t) => (status = t['grpc-status'] ?? status))
    call.on('data', (c) => chunks.push(c))
    call.on('error', reject)
    call.on('end', () => {
      session.close()
      const body = Buffer.concat(chunks)
      // HealthCheckResponse { ServingStatus status = 1 }: SERVING is 0x08 0x01.
      resolve(status === '0' && body[5] === 0x08 && body[6] === 1)
    })
    call.end(frame)
  })
}
