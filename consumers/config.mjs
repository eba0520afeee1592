// The few decisions of the consumer tests that are not derived from the packages
// themselves. Everything else (which packages, their entry points, their peer ranges,
// the README blocks, what a block imports) is read from the workspace.

/**
 * TypeScript settings checked per ESM project (`module`/`moduleResolution` pairs, see
 * lib/tsc.mjs). The last one of each project also checks the published declaration
 * files (skipLibCheck off).
 */
export const ESM_TS_MODES = {
  highest: ['node16', 'bundler', 'nodenext'],
  lowest: ['nodenext'],
}

/**
 * CommonJS TypeScript settings: `module: node16`, `module: nodenext`, and the classic
 * `module: commonjs` + `moduleResolution: node10`. Drop one here (with the reason in the
 * package READMEs) only if the packages decide not to support it.
 */
export const CJS_TS_MODES = ['node16', 'nodenext', 'node10']

/**
 * CommonJS TypeScript settings the packages do not support, and the one error each must
 * fail with — on every import, and nothing else — so a user gets that clear message and
 * the READMEs' "TypeScript and CommonJS" table stays true. `module: node16` predates
 * Node's `require(esm)`: TypeScript refuses to `require` an ES module there (TS1479),
 * and the packages are ESM only; `nodenext` (or `node20`) allows it.
 */
export const CJS_TS_UNSUPPORTED = {
  node16: { code: 'TS1479', use: 'module nodenext (or node20)' },
}

/** Node majors a CommonJS `require()` of every entry point runs on. */
export const CJS_NODE_MAJORS = [20, 22, 24]

/**
 * Entry points that must stay runtime-neutral (no Node built-in in their import graph),
 * from issue #22; each is smoke-tested under Bun and Deno. Entries not published yet are
 * ignored. Any other entry found neutral is smoke-tested too.
 */
export const MUST_BE_NEUTRAL = [
  '@sturdy/core',
  '@sturdy/timeout',
  '@sturdy/retry',
  '@sturdy/breaker',
  '@sturdy/chaos',
  '@sturdy/rate-limit/memory',
]

/**
 * Versions for packages the READMEs use that no workspace package depends on (the
 * workspace's own range is used for the others; anything else gets `latest`). The
 * OpenTelemetry SDK packages move in lockstep: these match the SDK 2.x the workspace uses.
 */
export const COMPANION_RANGES = {
  '@opentelemetry/exporter-trace-otlp-http': '^0.223.0',
  '@opentelemetry/resources': '^2.12.1',
}
