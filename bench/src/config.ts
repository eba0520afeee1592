/** The parts of the suite; each can run alone (`pnpm bench http`). */
export const PARTS = [
  'http',
  'policies',
  'client',
  'metrics',
  'soak',
  'rate-limit',
  'overload',
] as const
export type PartName = (typeof PARTS)[number]

/** The runtimes the suite knows: the machine's Node 20 and Node 24 from the registry. */
export type RuntimeName = 'node20' | 'node24'

/** Everything a run can be told. Flags win over environment variables, which win over defaults. */
export interface BenchConfig {
  readonly parts: readonly PartName[]
  /** Interleaved rounds per contender. */
  readonly rounds: number
  /** Seconds of load per HTTP/client sample. */
  readonly durationSec: number
  /** Seconds of load before round 1 (JIT warm-up), per contender. */
  readonly warmupSec: number
  /** Connections (requests in flight) for HTTP and client load. */
  readonly connections: number
  /** Runtimes the HTTP, policies and client parts run on. */
  readonly runtimes: readonly RuntimeName[]
  /** Runtimes the per-middleware attribution contenders run on (they are many). */
  readonly attributionRuntimes: readonly RuntimeName[]
  /** Milliseconds per policy sample. */
  readonly policySampleMs: number
  /** Requests in the memory soak. */
  readonly soakRequests: number
  /** `auto` picks wrk (installing it when root), else autocannon. */
  readonly loadGenerator: 'auto' | 'wrk' | 'autocannon'
  /** CPU list for servers (`taskset -c`). */
  readonly serverCpu: string
  /** CPU list for load generators and client/policy workers. */
  readonly loadCpu: string
  /** Where results go; relative to the bench folder. */
  readonly out: string
  /** Regenerate the table and chart in bench/README.md. */
  readonly readme: boolean
  /** Only contenders whose name contains one of these (empty: all). */
  readonly only: readonly string[]
  /**
   * pino destination for every logging contender: pino's default `pino.destination(file)`
   * (asynchronous: one `fs.write` per line while none is pending), `sync` (a synchronous
   * write per line) or `buffered` (asynchronous, 4 KiB at a time; `async` is an alias).
   */
  readonly logMode: 'default' | 'sync' | 'buffered'
}

/** The defaults: the whole suite in about 17 minutes on 2 cores. */
export const DEFAULTS: BenchConfig = {
  parts: PARTS,
  rounds: 3,
  durationSec: 3,
  warmupSec: 1,
  connections: 50,
  runtimes: ['node20', 'node24'],
  attributionRuntimes: ['node20', 'node24'],
  policySampleMs: 300,
  soakRequests: 200_000,
  loadGenerator: 'auto',
  serverCpu: '0',
  loadCpu: '1',
  out: 'results/latest.json',
  readme: true,
  only: [],
  logMode: 'default',
}

const ENV: Record<string, keyof BenchConfig> = {
  BENCH_ROUNDS: 'rounds',
  BENCH_DURATION: 'durationSec',
  BENCH_WARMUP: 'warmupSec',
  BENCH_CONNECTIONS: 'connections',
  BENCH_RUNTIMES: 'runtimes',
  BENCH_ATTRIBUTION: 'attributionRuntimes',
  BENCH_POLICY_SAMPLE_MS: 'policySampleMs',
  BENCH_SOAK_REQUESTS: 'soakRequests',
  BENCH_LOAD: 'loadGenerator',
  BENCH_SERVER_CPU: 'serverCpu',
  BENCH_LOAD_CPU: 'loadCpu',
  BENCH_OUT: 'out',
  BENCH_README: 'readme',
  BENCH_ONLY: 'only',
  BENCH_LOG_MODE: 'logMode',
}

const FLAGS: Record<string, keyof BenchConfig> = {
  '--rounds': 'rounds',
  '--duration': 'durationSec',
  '--warmup': 'warmupSec',
  '--connections': 'connections',
  '--runtimes': 'runtimes',
  '--attribution': 'attributionRuntimes',
  '--policy-sample-ms': 'policySampleMs',
  '--soak-requests': 'soakRequests',
  '--load': 'loadGenerator',
  '--server-cpu': 'serverCpu',
  '--load-cpu': 'loadCpu',
  '--out': 'out',
  '--readme': 'readme',
  '--only': 'only',
  '--log-mode': 'logMode',
}

export const USAGE = `usage: pnpm bench [part...] [flags]
       pnpm bench profile <http contender>|policy:<name> [flags]  (node --cpu-prof; top frames to results/profiles/)
       pnpm bench report [--out FILE]                (re-render README.md + chart from the results file)
       pnpm bench instructions [contender...] [--requests N --warm N --concurrency N --parallel N]
                                                     (callgrind: instructions per request / call)
       pnpm bench ab <contender...> [--base-dir DIR] (a kept build vs the current one: CPU µs/req)
parts: ${PARTS.join(', ')} (default: all)
flags (env):
  --rounds N            (BENCH_ROUNDS)            interleaved rounds, default ${DEFAULTS.rounds}
  --duration S          (BENCH_DURATION)          seconds per HTTP/client sample, default ${DEFAULTS.durationSec}
  --warmup S            (BENCH_WARMUP)            warm-up seconds per contender, default ${DEFAULTS.warmupSec}
  --connections N       (BENCH_CONNECTIONS)       requests in flight, default ${DEFAULTS.connections}
  --runtimes a,b        (BENCH_RUNTIMES)          node20,node24 (default both)
  --attribution a,b     (BENCH_ATTRIBUTION)       runtimes for per-middleware contenders: node20 | node20,node24 | none
  --policy-sample-ms N  (BENCH_POLICY_SAMPLE_MS)  default ${DEFAULTS.policySampleMs}
  --soak-requests N     (BENCH_SOAK_REQUESTS)     default ${DEFAULTS.soakRequests}
  --load auto|wrk|autocannon (BENCH_LOAD)
  --server-cpu L --load-cpu L (BENCH_SERVER_CPU / BENCH_LOAD_CPU) taskset CPU lists, default 0 / 1
  --out FILE            (BENCH_OUT)               default ${DEFAULTS.out}
  --readme false        (BENCH_README)            do not regenerate bench/README.md
  --only a,b            (BENCH_ONLY)              only contenders whose name contains one of these
  --log-mode default|sync|buffered (BENCH_LOG_MODE) pino destination for all loggers, default pino's default
  --smoke                                         rounds 1, duration 1, warmup 0.5, soak 5000: checks wiring, measures nothing
`

/** Parses argv (after the script name) and the environment into a config. */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): BenchConfig {
  const raw: Record<string, string> = {}
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const parts: PartName[] = []
  let smoke = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') continue
    if (arg === '--smoke') {
      smoke = true
      continue
    }
    if (arg.startsWith('--')) {
      const [flag, inline] = arg.split('=', 2) as [string, string | undefined]
      const key = FLAGS[flag]
      if (key === undefined) throw new Error(`unknown flag ${flag}\n${USAGE}`)
      const value = inline ?? argv[++i]
      if (value === undefined) throw new Error(`flag ${flag} needs a value`)
      raw[key] = value
      continue
    }
    if (!(PARTS as readonly string[]).includes(arg)) {
      throw new Error(`unknown part ${arg}\n${USAGE}`)
    }
    parts.push(arg as PartName)
  }
  const base: BenchConfig = smoke
    ? {
        ...DEFAULTS,
        rounds: 1,
        durationSec: 1,
        warmupSec: 0.5,
        policySampleMs: 100,
        soakRequests: 5000,
      }
    : DEFAULTS
  return {
    ...base,
    parts: parts.length > 0 ? [...new Set(parts)] : base.parts,
    rounds: int(raw.rounds, base.rounds, 'rounds'),
    durationSec: num(raw.durationSec, base.durationSec, 'duration'),
    warmupSec: num(raw.warmupSec, base.warmupSec, 'warmup', true),
    connections: int(raw.connections, base.connections, 'connections'),
    runtimes: runtimes(raw.runtimes, base.runtimes),
    attributionRuntimes: runtimes(raw.attributionRuntimes, base.attributionRuntimes),
    policySampleMs: int(raw.policySampleMs, base.policySampleMs, 'policy-sample-ms'),
    soakRequests: int(raw.soakRequests, base.soakRequests, 'soak-requests'),
    loadGenerator: loadGen(raw.loadGenerator ?? base.loadGenerator),
    serverCpu: raw.serverCpu ?? base.serverCpu,
    loadCpu: raw.loadCpu ?? base.loadCpu,
    out: raw.out ?? base.out,
    readme: raw.readme === undefined ? base.readme : !/^(0|false|no)$/i.test(raw.readme),
    only: raw.only === undefined ? base.only : raw.only.split(',').filter(Boolean),
    logMode: logMode(raw.logMode ?? base.logMode),
  }
}

/** `full` when every figure-bearing setting is at its default, else `reduced`. */
export function profileOf(config: BenchConfig): 'full' | 'reduced' {
  const same =
    config.rounds >= DEFAULTS.rounds &&
    config.durationSec >= DEFAULTS.durationSec &&
    config.warmupSec >= DEFAULTS.warmupSec &&
    config.policySampleMs >= DEFAULTS.policySampleMs &&
    config.soakRequests >= DEFAULTS.soakRequests &&
    config.only.length === 0
  return same ? 'full' : 'reduced'
}

function int(value: string | undefined, fallback: number, name: string): number {
  const n = num(value, fallback, name)
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${value}`)
  return n
}

function num(value: string | undefined, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) {
    throw new Error(`${name} must be a positive number, got ${value}`)
  }
  return n
}

function runtimes(value: string | undefined, fallback: readonly RuntimeName[]): RuntimeName[] {
  if (value === undefined) return [...fallback]
  if (value === 'none') return []
  const list = value.split(',').filter(Boolean)
  for (const r of list) {
    if (r !== 'node20' && r !== 'node24') throw new Error(`unknown runtime ${r} (node20, node24)`)
  }
  return list as RuntimeName[]
}

function logMode(value: string): BenchConfig['logMode'] {
  if (value === 'default' || value === 'sync' || value === 'buffered') return value
  if (value === 'async') return 'buffered'
  throw new Error(`--log-mode must be default, sync or buffered, got ${value}`)
}

function loadGen(value: string): BenchConfig['loadGenerator'] {
  if (value === 'auto' || value === 'wrk' || value === 'autocannon') return value
  throw new Error(`--load must be auto, wrk or autocannon, got ${value}`)
}
