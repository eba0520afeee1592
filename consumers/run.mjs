#!/usr/bin/env node
// Consumer tests: the published packages as a user gets them. See consumers/README.md.
//
//   node consumers/run.mjs [--only tsc,run,cjs,bun,deno] [--keep]
//
// Packs every published package, installs the tarballs with plain npm into temporary
// projects outside the workspace, then type-checks and runs every README ```ts block,
// requires every entry point from CommonJS, and smoke-tests the runtime-neutral entries
// under Bun and Deno. Writes .ci-reports/consumers.json; exits non-zero on a failure that
// is not listed in .ci/known-failures.json.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pool, run, secs, tail } from '../scripts/lib/proc.mjs'
import { createReport } from '../scripts/lib/report.mjs'
import { bunBinary, CACHE, denoBinary, nodeBinary } from '../scripts/lib/tools.mjs'
import { publishedPackages, ROOT, workspaceRange } from '../scripts/lib/workspace.mjs'
import {
  CJS_NODE_MAJORS,
  CJS_TS_MODES,
  CJS_TS_UNSUPPORTED,
  ESM_TS_MODES,
  MUST_BE_NEUTRAL,
} from './config.mjs'
import { readmeBlocks, resolveBlocks, runnableJs } from './lib/blocks.mjs'
import { neutralChecker } from './lib/neutral.mjs'
import {
  companions,
  install,
  installedVersion,
  packAll,
  peerRanges,
  peerVersions,
} from './lib/projects.mjs'
import { notFailingAsDocumented, typecheck } from './lib/tsc.mjs'

const HERE = join(ROOT, 'consumers')
const args = process.argv.slice(2)
const onlyArg = args.find((a) => a.startsWith('--only'))
const only = new Set(
  (onlyArg === undefined
    ? ''
    : onlyArg.includes('=')
      ? onlyArg.split('=')[1]
      : (args[args.indexOf(onlyArg) + 1] ?? '')
  )
    .split(',')
    .filter(Boolean),
)
const wants = (part) => only.size === 0 || only.has(part)
const keep = args.includes('--keep')

const report = createReport('consumers')
const timings = {}
const time = async (label, fn) => {
  const t = performance.now()
  try {
    return await fn()
  } finally {
    timings[label] = Math.round(performance.now() - t)
    console.log(`[consumers] ${label}: ${secs(timings[label])}`)
  }
}

const pkgs = publishedPackages()
const work = mkdtempSync(join(tmpdir(), 'sturdy-consumers-'))
console.log(`[consumers] ${pkgs.length} published packages; projects in ${work}`)

try {
  await main()
} catch (error) {
  report.fail('consumers › harness › setup', error.stack ?? String(error))
} finally {
  const runtimes = runtimeTable()
  const result = report.finish({ timings, runtimes })
  if (keep) console.log(`[consumers] kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
  process.exitCode = result.failed > 0 ? 1 : 0
}

async function main() {
  await time('build', ensureBuilt)
  const tarballs = await time('pack', () => packAll(pkgs, join(work, 'tarballs')))

  const blocks = pkgs.flatMap((p) =>
    resolveBlocks(readmeBlocks(p), join(HERE, 'preludes', `${p.dir}.ts`)),
  )
  const runnable = blocks.filter((b) => b.runnable)
  console.log(
    `[consumers] ${blocks.length} README ts blocks, ${runnable.length} also run; not run:\n${blocks
      .filter((b) => !b.runnable)
      .map((b) => `    ${b.pkg} ${b.subject}: ${b.notRunWhy}`)
      .join('\n')}`,
  )

  const ranges = peerRanges(pkgs)
  const extra = companions(pkgs, blocks, ranges)
  const { versions: peers, notes } = await time('versions', () => peerVersions(ranges, extra))
  for (const n of notes) console.log(`[consumers] note: ${n}`)
  const tools = new Map([
    ['typescript', workspaceRange('typescript') ?? 'latest'],
    ['@types/node', workspaceRange('@types/node') ?? 'latest'],
  ])
  const level = (which) => new Map([...peers].map(([n, v]) => [n, v[which]]))

  const projects = {
    highest: { type: 'module', deps: new Map([...level('highest'), ...extra, ...tools]) },
    lowest: { type: 'module', deps: new Map([...level('lowest'), ...extra, ...tools]) },
    cjs: { type: 'commonjs', deps: new Map([...level('highest'), ...tools]) },
  }
  if (!wants('tsc') && !wants('run') && !wants('bun') && !wants('deno')) {
    delete projects.highest
    delete projects.lowest
  } else if (!wants('tsc') && !wants('run')) delete projects.lowest
  if (!wants('cjs')) delete projects.cjs

  // Installs (network) and runtime downloads overlap.
  const runtimes = {}
  const [installs] = await Promise.all([
    time('install', () =>
      pool(
        3,
        Object.entries(projects).map(([name, p]) => async () => {
          const dir = join(work, name)
          const r = await install(dir, { type: p.type, tarballs, deps: p.deps })
          return [name, { dir, ok: r.code === 0, r }]
        }),
      ).then(Object.fromEntries),
    ),
    time('runtimes', async () => {
      if (wants('bun')) runtimes.bun = await bunBinary()
      if (wants('deno')) runtimes.deno = await denoBinary()
      if (wants('cjs')) {
        for (const major of CJS_NODE_MAJORS) runtimes[`node${major}`] = await nodeBinary(major)
      }
    }),
  ])
  for (const [name, i] of Object.entries(installs)) {
    if (i.ok) {
      const versions = [...projects[name].deps.keys()]
        .filter((n) => peers.has(n))
        .map((n) => `${n}@${installedVersion(i.dir, n)}`)
      console.log(`[consumers] ${name}: ${versions.join(', ')}`)
    } else {
      report.fail(`install ${name} › npm › install`, tail(i.r.stderr || i.r.stdout))
    }
  }
  for (const [name, t] of Object.entries(runtimes)) {
    console.log(
      `[consumers] ${name}: ${'skip' in t ? `SKIPPED — ${t.skip}` : `${t.version} (${t.bin})`}`,
    )
  }

  const tasks = []
  for (const name of ['highest', 'lowest']) {
    const i = installs[name]
    if (!i?.ok) continue
    writeBlocks(i.dir, blocks)
    if (wants('tsc')) {
      for (const mode of ESM_TS_MODES[name])
        tasks.push(['cpu', () => esmTypecheck(name, i.dir, mode, blocks)])
    }
    if (wants('run')) {
      const node = { bin: process.execPath, version: process.version }
      tasks.push([
        'io',
        () =>
          runEntries(`run ${name} node${process.versions.node.split('.')[0]}`, i.dir, node, pkgs),
      ])
      for (const b of runnable) {
        tasks.push([
          'io',
          () => runBlock(`run ${name} node${process.versions.node.split('.')[0]}`, i.dir, node, b),
        ])
      }
    }
  }
  const high = installs.highest
  if (high?.ok && (wants('bun') || wants('deno'))) {
    const neutral = neutralTable(high.dir, pkgs, runnable)
    for (const rt of ['bun', 'deno']) {
      if (!wants(rt)) continue
      const tool = runtimes[rt]
      const suite = `run highest ${rt}`
      if ('skip' in tool) {
        for (const p of pkgs)
          report.skip(
            `${suite} › ${p.name} › runtime`,
            `${rt} could not be installed: ${tool.skip}`,
          )
        continue
      }
      const neutralPkgs = pkgs
        .map((p) => ({ ...p, entries: p.entries.filter((e) => neutral.entries.has(e)) }))
        .filter((p) => p.entries.length > 0)
      tasks.push(['io', () => runEntries(suite, high.dir, { ...tool, runtime: rt }, neutralPkgs)])
      for (const b of neutral.blocks)
        tasks.push(['io', () => runBlock(suite, high.dir, { ...tool, runtime: rt }, b)])
    }
  }
  const cjs = installs.cjs
  if (cjs?.ok) {
    cpSync(join(HERE, 'cjs-check.cjs'), join(cjs.dir, 'cjs-check.cjs'))
    writeCjsEntries(cjs.dir, pkgs)
    for (const major of CJS_NODE_MAJORS)
      tasks.push(['io', () => requireEntries(cjs.dir, major, runtimes[`node${major}`], pkgs)])
    for (const mode of CJS_TS_MODES) tasks.push(['cpu', () => cjsTypecheck(cjs.dir, mode, pkgs)])
  }

  await time('checks', () =>
    Promise.all([
      pool(
        2,
        tasks.filter(([k]) => k === 'cpu').map(([, f]) => f),
      ),
      pool(
        4,
        tasks.filter(([k]) => k === 'io').map(([, f]) => f),
      ),
    ]),
  )
}

/** Packs what the sources say: turbo rebuilds what changed (a cache hit in CI). */
async function ensureBuilt() {
  const filters = pkgs.flatMap((p) => ['--filter', p.name])
  const r = await run('pnpm', ['turbo', 'run', 'build', ...filters, '--output-logs=errors-only'], {
    cwd: ROOT,
    timeoutMs: 20 * 60_000,
  })
  if (r.code !== 0) throw new Error(`build failed:\n${tail(r.stdout + r.stderr)}`)
}

function writeBlocks(dir, blocks) {
  cpSync(join(HERE, 'driver.mjs'), join(dir, 'driver.mjs'))
  // A package's fixture folder (files its README's blocks import relatively, e.g. code
  // `buf generate` writes) sits beside its blocks, for tsc and for the run alike.
  for (const d of new Set(blocks.map((b) => b.dir))) {
    const fixture = join(HERE, 'fixtures', d)
    if (!existsSync(fixture)) continue
    for (const where of ['blocks', 'run']) cpSync(fixture, join(dir, where, d), { recursive: true })
  }
  for (const b of blocks) {
    mkdirSync(join(dir, 'blocks', b.dir), { recursive: true })
    writeFileSync(join(dir, 'blocks', b.dir, `${b.file}.ts`), b.source)
    if (b.runnable) {
      mkdirSync(join(dir, 'run', b.dir), { recursive: true })
      writeFileSync(join(dir, 'run', b.dir, `${b.file}.mjs`), runnableJs(b))
    }
  }
  mkdirSync(join(dir, 'entries'), { recursive: true })
  for (const p of pkgs) writeFileSync(join(dir, 'entries', `${p.dir}.ts`), entryImports(p))
}

function entryImports(p) {
  const lines = p.entries.map((e, i) => `import * as entry${i} from '${e}'`)
  return `${lines.join('\n')}\nexport const entries = [${p.entries.map((_, i) => `entry${i}`).join(', ')}]\n`
}

/** Type-checks every README block and every entry point under one module setting. */
async function esmTypecheck(project, dir, mode, blocks) {
  const suite = `tsc ${project} ${mode}`
  // Declaration files are checked once per project, in its last (nodenext) setting.
  const declarations = mode === ESM_TS_MODES[project].at(-1)
  const result = await typecheck(dir, mode, ['blocks/**/*.ts', 'entries/**/*.ts'], { declarations })
  console.log(`[consumers] ${suite}: ${secs(result.ms)}`)
  const used = new Set()
  for (const b of blocks) {
    const file = `blocks/${b.dir}/${b.file}.ts`
    used.add(file)
    const errors = result.byFile.get(file) ?? []
    const id = `${suite} › ${b.pkg} › ${b.subject}`
    if (errors.length === 0) report.pass(id, b.where)
    else report.fail(id, errors.map((e) => blockError(b, e)).join('\n'), b.where)
  }
  for (const p of pkgs) {
    const file = `entries/${p.dir}.ts`
    used.add(file)
    checkFile(`${suite} › ${p.name} › entries`, result.byFile.get(file))
  }
  if (declarations) declarationChecks(suite, result, used)
  else otherErrors(suite, result, used)
}

function blockError(b, e) {
  const inBlock = e.line > b.preludeLines
  const where = inBlock
    ? `README.md:${b.line + e.line - b.preludeLines - 1}`
    : `prelude consumers/preludes/${b.dir}.ts (as merged, line ${e.line})`
  return `${where}: ${e.code} ${e.text}`
}

function checkFile(id, errors) {
  if (errors === undefined || errors.length === 0) report.pass(id)
  else report.fail(id, errors.map((e) => `line ${e.line}: ${e.code} ${e.text}`).join('\n'))
}

/** Errors inside a published package's declarations, one check per package; others noted. */
function declarationChecks(suite, result, used) {
  const perPkg = new Map(pkgs.map((p) => [p.name, []]))
  const foreign = []
  for (const [file, errors] of result.byFile) {
    if (used.has(file)) continue
    const m = /node_modules\/(@sturdy\/[^/]+)\//.exec(file)
    if (m && perPkg.has(m[1]))
      perPkg.get(m[1]).push(...errors.map((e) => `${file}:${e.line}: ${e.code} ${e.text}`))
    else foreign.push(...errors.map((e) => `${file}:${e.line}: ${e.code} ${e.text}`))
  }
  for (const [name, errors] of perPkg) {
    const id = `${suite} › ${name} › declarations`
    if (errors.length === 0) report.pass(id)
    else report.fail(id, errors.join('\n'))
  }
  if (result.other.length > 0) report.fail(`${suite} › tsc › run`, result.other.join('\n'))
  if (foreign.length > 0) {
    console.log(
      `[consumers] ${suite}: ${foreign.length} errors in third-party declarations (not counted):\n    ${foreign.slice(0, 5).join('\n    ')}`,
    )
  }
}

function runtimeCommand(tool, args) {
  if (tool.runtime === 'deno')
    return [tool.bin, ['run', '--allow-all', '--quiet', '--no-prompt', ...args]]
  return [tool.bin, args]
}

function runtimeEnv() {
  return {
    ...process.env,
    NO_COLOR: '1',
    DENO_DIR: join(CACHE, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0',
    NODE_ENV: 'development',
  }
}

function resultOf(r) {
  const line = r.stdout.split('\n').find((l) => l.startsWith('@@sturdy-result '))
  return line === undefined ? undefined : JSON.parse(line.slice('@@sturdy-result '.length))
}

function processFailure(r) {
  return [
    r.timedOut
      ? 'timed out'
      : `exited with code ${r.code}${r.signal ? ` (${r.signal})` : ''} before finishing`,
    r.stderr.trim() && `stderr:\n${tail(r.stderr, 1500)}`,
    r.stdout.trim() && `stdout:\n${tail(r.stdout.replace(/^@@sturdy-result .*$/m, ''), 600)}`,
  ]
    .filter(Boolean)
    .join('\n')
}

/** Imports every entry point in one runtime, one process per package. */
async function runEntries(suite, dir, tool, packages) {
  await pool(
    2,
    packages.map((p) => async () => {
      for (const entry of p.entries) {
        const id = `${suite} › ${p.name} › import ${entry}`
        const [cmd, argv] = runtimeCommand(tool, ['driver.mjs', 'entry', entry])
        const r = await run(cmd, argv, { cwd: dir, env: runtimeEnv(), timeoutMs: 60_000 })
        const res = r.code === 0 ? resultOf(r) : undefined
        if (res === undefined) report.fail(id, processFailure(r))
        else if (res.exports === 0) report.fail(id, 'the entry point exports nothing')
        else if (res.undefined.length > 0)
          report.fail(id, `undefined exports: ${res.undefined.join(', ')}`)
        else report.pass(id)
      }
    }),
  )
}

/** Runs one README block in one runtime (see driver.mjs for what "runs" means). */
async function runBlock(suite, dir, tool, b) {
  const id = `${suite} › ${b.pkg} › ${b.subject}`
  const file = `run/${b.dir}/${b.file}.mjs`
  const [cmd, argv] = runtimeCommand(tool, ['driver.mjs', 'block', file, JSON.stringify(b.routes)])
  const r = await run(cmd, argv, { cwd: dir, env: runtimeEnv(), timeoutMs: 60_000 })
  const res = r.code === 0 ? resultOf(r) : undefined
  if (res === undefined) {
    report.fail(id, processFailure(r), b.where)
    return
  }
  const bad = res.requests.filter((q) => q.error !== undefined)
  const summary = res.requests.map(
    (q) => `${q.scenario} ${q.method} ${q.path} → ${q.status ?? q.error} (${q.ms} ms)`,
  )
  if (bad.length > 0) {
    report.fail(
      id,
      `requests (upstream ok/slow):\n${summary.join('\n')}${r.stderr.trim() ? `\nstderr:\n${tail(r.stderr, 1500)}` : ''}`,
      b.where,
    )
  } else {
    report.pass(id, b.where)
  }
}

/** Which entries and runnable blocks are runtime-neutral, judged in the installed project. */
function neutralTable(dir, packages, runnable) {
  const check = neutralChecker(dir)
  const entries = new Set()
  console.log('[consumers] runtime-neutral entry points (run under Bun and Deno):')
  for (const p of packages) {
    for (const e of p.entries) {
      const why = check.why(e)
      if (why === undefined) entries.add(e)
      console.log(
        `    ${why === undefined ? 'neutral  ' : 'Node only'} ${e}${why ? `  (${why})` : ''}`,
      )
      if (MUST_BE_NEUTRAL.includes(e)) {
        const id = `neutral › ${p.name} › ${e}`
        if (why === undefined) report.pass(id)
        else
          report.fail(
            id,
            `must stay runtime-neutral (consumers/config.mjs) but imports a Node built-in: ${why}`,
          )
      }
    }
  }
  const blocks = runnable.filter((b) => b.imports.every((spec) => check.why(spec) === undefined))
  return { entries, blocks }
}

function writeCjsEntries(dir, packages) {
  mkdirSync(join(dir, 'cts'), { recursive: true })
  for (const p of packages) writeFileSync(join(dir, 'cts', `${p.dir}.ts`), entryImports(p))
}

/** `require()` of every entry point from a CommonJS module, on one Node major. */
async function requireEntries(dir, major, tool, packages) {
  const suite = `require cjs node${major}`
  if (tool === undefined || 'skip' in tool) {
    for (const p of packages)
      report.skip(
        `${suite} › ${p.name} › require`,
        `Node ${major}: ${tool?.skip ?? 'not installed'}`,
      )
    return
  }
  const specs = packages.flatMap((p) => p.entries)
  const r = await run(tool.bin, ['cjs-check.cjs', JSON.stringify(specs)], {
    cwd: dir,
    env: runtimeEnv(),
    timeoutMs: 120_000,
  })
  const res = r.code === 0 ? resultOf(r) : undefined
  for (const p of packages) {
    for (const e of p.entries) {
      const id = `${suite} › ${p.name} › require ${e}`
      if (res === undefined) report.fail(id, processFailure(r))
      else if (res[e]?.error) report.fail(id, res[e].error)
      else report.pass(id)
    }
  }
}

/** Without declaration checks, an error outside the checked files is still a failure. */
function otherErrors(suite, result, used) {
  const rest = [...result.byFile].filter(([file]) => !used.has(file))
  const lines = [
    ...result.other,
    ...rest.flatMap(([f, es]) => es.map((e) => `${f}:${e.line}: ${e.code} ${e.text}`)),
  ]
  if (lines.length > 0) report.fail(`${suite} › tsc › run`, lines.join('\n'))
}

async function cjsTypecheck(dir, mode, packages) {
  const suite = `tsc cjs ${mode}`
  const result = await typecheck(dir, `cjs-${mode}`, ['cts/**/*.ts'])
  console.log(`[consumers] ${suite}: ${secs(result.ms)}`)
  const used = new Set()
  const unsupported = CJS_TS_UNSUPPORTED[mode]
  for (const p of packages) {
    const file = `cts/${p.dir}.ts`
    used.add(file)
    const errors = result.byFile.get(file)
    if (unsupported === undefined) {
      checkFile(`${suite} › ${p.name} › entries`, errors)
      continue
    }
    // Unsupported, documented: passes when every import fails with the documented error.
    const id = `${suite} › ${p.name} › entries fail with ${unsupported.code}`
    const why = notFailingAsDocumented(errors, p.entries.length, unsupported.code)
    if (why === undefined) report.pass(id)
    else
      report.fail(
        id,
        `unsupported setting (use ${unsupported.use}): each import must fail with ${unsupported.code} alone, as the READMEs say\n${why}`,
      )
  }
  otherErrors(suite, result, used)
}

/**
 * Per package and runtime, what ran: README blocks run (passed/total) and entry points
 * imported — the facts behind each README's "tested on" line.
 */
function runtimeTable() {
  const suites = [
    ['Node (lowest peers)', `run lowest node${process.versions.node.split('.')[0]}`],
    ['Node (highest peers)', `run highest node${process.versions.node.split('.')[0]}`],
    ['Bun', 'run highest bun'],
    ['Deno', 'run highest deno'],
  ]
  const table = {}
  const rows = []
  for (const p of pkgs) {
    const cells = {}
    for (const [label, suite] of suites) {
      const mine = report.checks.filter((c) => c.id.startsWith(`${suite} › ${p.name} › `))
      const blocks = mine.filter((c) => c.id.includes(' › README:'))
      const imports = mine.filter((c) => c.id.includes(' › import '))
      const ok = (list) => list.filter((c) => c.status === 'pass').length
      cells[label] =
        mine.length === 0
          ? '—'
          : `${ok(blocks)}/${blocks.length} blocks, ${ok(imports)}/${imports.length} imports`
    }
    table[p.name] = cells
    rows.push(`| ${p.name} | ${suites.map(([label]) => cells[label]).join(' | ')} |`)
  }
  console.log(
    `\n[consumers] what ran where (README blocks run / entry points imported, passed/total):\n| package | ${suites.map(([l]) => l).join(' | ')} |\n|${' --- |'.repeat(suites.length + 1)}\n${rows.join('\n')}`,
  )
  return table
}
