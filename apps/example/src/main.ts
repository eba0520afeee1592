/**
 * @module
 * The example system's one entry point: `node dist/main.js` (or `pnpm start`). `SERVICE`
 * picks what this process runs — `all` (default), or `gateway`, `users`, `payments` or
 * `delivery`, as in its own container. Configuration comes from the environment,
 * validated at start: a bad variable prints one message naming it and exits 1.
 */
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './platform/logging.ts'
import { setupTelemetry } from './platform/telemetry.ts'
import { startSystem } from './system.ts'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env, process.stdout.isTTY === true)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  // One JSON line like every other line this process prints, then exit 1.
  process.stderr.write(
    `${JSON.stringify({ level: 60, time: Date.now(), msg: error.message, problems: error.problems })}\n`,
  )
  process.exit(1)
}

const logger = createLogger(config.log)
// The SDK first, so every service built next has its tracer provider and the context
// manager is registered before any request runs.
const telemetry = setupTelemetry(config, logger)

try {
  const system = await startSystem(config, { logger, telemetry })
  system.life.handleSignals()
  logger.info(
    {
      services: config.services,
      ...(system.urls.gateway === undefined
        ? {}
        : {
            try: [
              `${system.urls.gateway}/users/1`,
              `${system.urls.gateway}/status`,
              `${system.metricsUrl}`,
            ],
          }),
    },
    'sturdy example started',
  )
} catch (error) {
  logger.fatal({ err: error }, 'start failed')
  logger.flush()
  await telemetry.shutdown().catch(() => {})
  process.exit(1)
}
