import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, SERVICES } from './config.ts'

const errorOf = (env: Record<string, string>): ConfigError => {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('no error')
}

describe('loadConfig', () => {
  it('runs everything locally with an embedded database by default', () => {
    const config = loadConfig({})
    expect(config.services).toEqual(SERVICES)
    expect(config.ports).toEqual({ gateway: 3000, users: 3001, payments: 3002, delivery: 3003 })
    expect(config.metricsPort).toBe(9090)
    expect(config.database).toEqual({ kind: 'pglite', dataDir: undefined })
    expect(config.urls.payments).toBe('http://127.0.0.1:3002')
    expect(config.telemetry.exporter).toBe('none')
    expect(config.log.format).toBe('json')
    expect(config.chaos.admin).toBe(false)
    expect(config.drainDelayMs).toBe(0)
    expect(config.redisUrl).toBeUndefined()
  })

  it('picks one service, PostgreSQL, OTLP, pretty logs on a terminal', () => {
    const config = loadConfig(
      {
        SERVICE: 'payments',
        DATABASE_URL: 'postgres://app@db:5432/app',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
      },
      true,
    )
    expect(config.services).toEqual(['payments'])
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://app@db:5432/app' })
    expect(config.telemetry.exporter).toBe('otlp')
    expect(config.log.format).toBe('pretty')
    expect(config.drainDelayMs).toBe(5000)
  })

  it('treats empty variables as unset', () => {
    expect(loadConfig({ GATEWAY_PORT: '', SERVICE: '' }).ports.gateway).toBe(3000)
  })

  it('names every bad variable and what it got', () => {
    const error = errorOf({ GATEWAY_PORT: 'eighty', SERVICE: 'billing', DATABASE_URL: 'mysql://x' })
    expect(error.problems).toEqual([
      expect.stringMatching(
        /^SERVICE: expected one of gateway, users, payments, delivery, all \(got "billing"\)$/,
      ),
      expect.stringMatching(/^GATEWAY_PORT: .*port.* \(got "eighty"\)$/),
      expect.stringMatching(/^DATABASE_URL: expected a postgres:\/\/ URL \(got "mysql:\/\/x"\)$/),
    ])
    expect(error.message).toMatch(/^Invalid configuration:\n {2}SERVICE/)
    expect(errorOf({ METRICS_PORT: '70000' }).problems[0]).toMatch(
      /^METRICS_PORT: expected a port from 0 to 65535/,
    )
    expect(errorOf({ CHAOS_ADMIN: 'yes' }).problems[0]).toMatch(
      /^CHAOS_ADMIN: expected 1, 0, true or false/,
    )
  })

  it('shares state through Redis only with a redis:// URL', () => {
    expect(loadConfig({ REDIS_URL: 'redis://redis:6379' }).redisUrl).toBe('redis://redis:6379')
    expect(loadConfig({ REDIS_URL: 'rediss://cache.example:6380/1' }).redisUrl).toBe(
      'rediss://cache.example:6380/1',
    )
    for (const bad of ['redis:6379', 'http://redis:6379', 'not a url']) {
      expect(errorOf({ REDIS_URL: bad }).problems).toEqual([
        `REDIS_URL: expected a redis:// or rediss:// URL (got ${JSON.stringify(bad)})`,
      ])
    }
  })

  it('refuses a chaos admin without a token on a public interface', () => {
    expect(errorOf({ CHAOS_ADMIN: '1', HOST: '0.0.0.0' }).problems[0]).toMatch(
      /^CHAOS_TOKEN: required/,
    )
    expect(loadConfig({ CHAOS_ADMIN: '1' }).chaos).toEqual({ admin: true, token: undefined })
  })

  it('TRUST_PROXY: none by default, a number of proxies, or their addresses; nonsense refused', () => {
    expect(loadConfig({}).trustProxy).toBe(0)
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1)
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, fd00::/8 ' }).trustProxy).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ])
    expect(errorOf({ TRUST_PROXY: 'true' }).problems[0]).toMatch(
      /^TRUST_PROXY: expected a number of proxies or a comma-separated list .*"true"/,
    )
    expect(errorOf({ TRUST_PROXY: '10.0.0.0/33' }).problems[0]).toMatch(/^TRUST_PROXY: .*prefix/)
  })
})
