import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BENCH_DIR, BUILD_DIR, buildEntries } from './build.ts'
import { HTTP_CONTENDERS } from './parts/http.ts'
import { SOAK_CONTENDERS } from './parts/soak.ts'

describe('buildEntries', () => {
  it('bundles every contender and worker, and says which Sturdy packages it could include', async () => {
    const availability = await buildEntries()
    expect(availability.present).toEqual(expect.arrayContaining(['core', 'hono']))
    for (const [name, reason] of Object.entries(availability.missing)) {
      expect(reason).toContain(`@sturdy/${name}`)
    }
    const files = [
      ...HTTP_CONTENDERS.map((c) => `http-${c.name}`),
      ...SOAK_CONTENDERS.map((c) => `soak-${c.name}`),
      'upstream',
      'policies',
      'client',
      'metrics',
      'soak-load',
    ]
    for (const file of files) {
      const source = ['servers', 'workers'].some((dir) =>
        existsSync(join(BENCH_DIR, 'src', dir, `${file}.ts`)),
      )
      expect(source, file).toBe(true)
      expect(existsSync(join(BUILD_DIR, `${file}.mjs`)), file).toBe(true)
    }
  }, 30_000)
})
