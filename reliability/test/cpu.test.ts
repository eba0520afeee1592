import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { CpuSample } from '../src/cpu.ts'
import { CpuTally, cpuMeter, cpuSpent } from '../src/cpu.ts'

const sample = (groups: Record<string, number>, idle: number, total: number): CpuSample => ({
  groups,
  idle,
  steal: 0,
  total,
})

describe('cpuMeter', () => {
  it("counts a child's CPU in its own group, not in its parent's", async () => {
    // A child that burns 400 ms of CPU (its own CPU time, however busy the host), says so,
    // and then waits to be ended (a process that has exited has no /proc entry to read).
    const child = spawn(
      process.execPath,
      [
        '-e',
        'const u = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000 }; const t = u(); while (u() - t < 400) {} console.log("burnt"); setTimeout(() => {}, 30000)',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const meter = cpuMeter({ child: [child.pid!], self: [process.pid] })
      expect(meter, 'no /proc on this machine').toBeDefined()
      const before = meter!.sample()
      await once(child.stdout!, 'data', { signal: AbortSignal.timeout(30_000) })
      const spent = cpuSpent(before, meter!.sample())
      expect(spent.child).toBeGreaterThanOrEqual(350) // /proc counts in ticks of 10 ms
      expect(spent.self).toBeLessThan(spent.child!)
      expect(spent.total).toBeGreaterThanOrEqual(spent.child! + spent.self!)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('cpuSpent', () => {
  it('gives each group its difference and the rest of the machine as other', () => {
    const a = sample({ gateway: 100, suite: 50 }, 1000, 2000)
    const b = sample({ gateway: 400, suite: 150 }, 1300, 3000)
    expect(cpuSpent(a, b)).toEqual({
      gateway: 300,
      suite: 100,
      idle: 300,
      steal: 0,
      other: 300,
      total: 1000,
    })
  })

  it('never reads a negative time (a process that exited between two samples)', () => {
    const a = sample({ gateway: 500 }, 0, 0)
    const b = sample({ gateway: 0 }, 0, 100)
    expect(cpuSpent(a, b).gateway).toBe(0)
  })
})

describe('CpuTally', () => {
  it('gives µs per request served over every window added', () => {
    const tally = new CpuTally()
    expect(tally.perRequestUs()).toEqual({})
    tally.add(sample({ gateway: 0 }, 0, 0), sample({ gateway: 10 }, 5, 20), 10)
    tally.add(sample({ gateway: 10 }, 5, 20), sample({ gateway: 40 }, 10, 60), 30)
    // 40 ms of the gateway over 40 requests: 1,000 µs each.
    expect(tally.perRequestUs()).toEqual({
      gateway: 1000,
      idle: 250,
      steal: 0,
      other: 250,
      total: 1500,
    })
  })
})
