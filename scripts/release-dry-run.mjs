#!/usr/bin/env node
// The release, rehearsed: in a throwaway copy of the working tree (never the checkout),
// `pnpm changeset version` consumes the pending changesets, then
// `pnpm publish -r --dry-run` packs every published package as the registry would get it.
//
//   node scripts/release-dry-run.mjs        (pnpm release:dry-run)
//
// Checks: the version step succeeds and consumes every changeset; each published package
// is in the publish summary, at the version the changesets gave it, with no `workspace:`
// range left; the checkout's git status is the same before and after.
import { execFileSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { run, tail } from './lib/proc.mjs'
import { createReport } from './lib/report.mjs'
import { publishedPackages, ROOT } from './lib/workspace.mjs'

const report = createReport('release')
const pkgs = publishedPackages()
const git = (args, cwd = ROOT) => execFileSync('git', args, { cwd, encoding: 'utf8' })
const statusBefore = git(['status', '--porcelain'])
const work = mkdtempSync(join(tmpdir(), 'sturdy-release-'))
const repo = join(work, 'repo')

try {
  await rehearse()
} catch (error) {
  report.fail('release › harness › setup', error.stack ?? String(error))
} finally {
  rmSync(work, { recursive: true, force: true })
  const statusAfter = git(['status', '--porcelain'])
  if (statusAfter === statusBefore) report.pass('release › checkout › untouched')
  else report.fail('release › checkout › untouched', `git status changed:\n${statusAfter}`)
  const result = report.finish()
  process.exitCode = result.failed > 0 ? 1 : 0
}

async function rehearse() {
  // The dist/ that gets published: turbo rebuilds what changed (a cache hit in CI).
  const build = await run(
    'pnpm',
    [
      'turbo',
      'run',
      'build',
      ...pkgs.flatMap((p) => ['--filter', p.name]),
      '--output-logs=errors-only',
    ],
    { cwd: ROOT, timeoutMs: 20 * 60_000 },
  )
  if (build.code !== 0) throw new Error(`build failed:\n${tail(build.stdout + build.stderr)}`)
  // The working tree as git sees it (tracked and untracked, minus ignored), plus the
  // built dist/ of each published package (ignored, so copied by hand).
  const files = git(['ls-files', '-z', '--cached', '--others', '--exclude-standard']).split('\0')
  for (const f of files) {
    if (f === '' || !existsSync(join(ROOT, f))) continue
    mkdirSync(dirname(join(repo, f)), { recursive: true })
    cpSync(join(ROOT, f), join(repo, f))
  }
  for (const p of pkgs) {
    const dist = join(p.path, 'dist')
    if (!existsSync(dist)) throw new Error(`${p.name} has no dist/ after the build`)
    cpSync(dist, join(repo, 'packages', p.dir, 'dist'), { recursive: true })
  }
  // changesets' git changelog reads each changeset's commit: give the copy one commit.
  const id = ['-c', 'user.name=sturdy-ci', '-c', 'user.email=ci@localhost']
  git(['init', '-q', '-b', 'main'], repo)
  git(['add', '-A'], repo)
  git([...id, 'commit', '-qm', 'release rehearsal snapshot', '--no-verify'], repo)

  const step = async (label, cmd, args) => {
    const r = await run(cmd, args, {
      cwd: repo,
      timeoutMs: 15 * 60_000,
      env: { ...process.env, CI: 'true' },
    })
    if (r.code !== 0) report.fail(`release › ${label}`, tail(r.stdout + r.stderr))
    else report.pass(`release › ${label}`)
    return r
  }
  const install = await step('pnpm › install', 'pnpm', [
    'install',
    '--frozen-lockfile',
    '--prefer-offline',
    '--ignore-scripts',
  ])
  if (install.code !== 0) return

  const pending = readdirSync(join(repo, '.changeset')).filter(
    (f) => f.endsWith('.md') && f !== 'README.md',
  )
  const version = await step('changeset › version', 'pnpm', ['changeset', 'version'])
  if (version.code !== 0) return
  const left = readdirSync(join(repo, '.changeset')).filter(
    (f) => f.endsWith('.md') && f !== 'README.md',
  )
  if (left.length > 0)
    report.fail('release › changeset › consumed', `left over: ${left.join(', ')}`)
  else report.pass('release › changeset › consumed')
  console.log(`[release] ${pending.length} changesets consumed`)

  const publish = await step('pnpm › publish -r --dry-run', 'pnpm', [
    'publish',
    '-r',
    '--dry-run',
    '--no-git-checks',
    '--report-summary',
  ])
  if (publish.code !== 0) return
  const summaryFile = join(repo, 'pnpm-publish-summary.json')
  const summary = existsSync(summaryFile)
    ? JSON.parse(readFileSync(summaryFile, 'utf8')).publishedPackages
    : []
  // What the registry would get: the packed manifests, versioned, without workspace ranges.
  const packed = join(work, 'packed')
  const pack = await step('pnpm › pack', 'pnpm', [
    '-r',
    ...pkgs.flatMap((p) => ['--filter', p.name]),
    'pack',
    '--pack-destination',
    packed,
  ])
  for (const p of pkgs) {
    const id = `release › ${p.name} › publish`
    const version = JSON.parse(
      readFileSync(join(repo, 'packages', p.dir, 'package.json'), 'utf8'),
    ).version
    if (!summary.some((s) => s.name === p.name && s.version === version)) {
      report.fail(
        id,
        `${p.name}@${version} is not in the publish summary; pnpm said:\n${tail(publish.stdout, 800)}`,
      )
      continue
    }
    const tgz = join(packed, `${p.name.replace('@', '').replace('/', '-')}-${version}.tgz`)
    if (pack.code !== 0 || !existsSync(tgz)) {
      report.fail(id, `no packed tarball ${tgz}`)
      continue
    }
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tgz, 'package/package.json'], { encoding: 'utf8' }),
    )
    const leftovers = ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((f) =>
      Object.entries(manifest[f] ?? {})
        .filter(([, range]) => String(range).startsWith('workspace:'))
        .map(([n, range]) => `${f}.${n}: ${range}`),
    )
    if (leftovers.length > 0) {
      report.fail(id, `workspace ranges left in the packed manifest: ${leftovers.join(', ')}`)
    } else {
      report.pass(id)
      const deps = Object.entries(manifest.dependencies ?? {})
        .filter(([n]) => n.startsWith('@sturdy/'))
        .map(([n, r]) => `${n}@${r}`)
      console.log(`[release] ${p.name}@${version}${deps.length > 0 ? ` (${deps.join(', ')})` : ''}`)
    }
  }
}
