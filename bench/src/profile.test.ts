import { describe, expect, it } from 'vitest'
import { type CpuProfile, topFrames } from './profile.ts'

describe('topFrames', () => {
  it('sums self time per function, merging nodes of the same frame, heaviest first', () => {
    const frame = (functionName: string, url = '/x/app.mjs', lineNumber = 9) => ({
      functionName,
      url,
      lineNumber,
    })
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('handler') },
        { id: 3, callFrame: frame('', '/x/lib.mjs', 0) },
        { id: 4, callFrame: frame('handler') },
      ],
      samples: [2, 3, 4, 2, 1],
      timeDeltas: [1000, 500, 1000, 1000, 500],
    }
    expect(topFrames(profile)).toEqual([
      { frame: 'handler app.mjs:10', selfMs: 3, percent: 75 },
      { frame: '(anonymous) lib.mjs:1', selfMs: 0.5, percent: 12.5 },
      { frame: '(root)', selfMs: 0.5, percent: 12.5 },
    ])
    expect(topFrames(profile, 1)).toHaveLength(1)
  })
})
