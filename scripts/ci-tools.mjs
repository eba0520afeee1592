#!/usr/bin/env node
// Installs (or finds in the cache) every runtime the CI parts use: Node 22 and 24, Bun
// and Deno. .ci/run starts it first so the downloads overlap with lint and build; the
// parts themselves would install what is missing (under a lock) anyway.
import { bunBinary, denoBinary, nodeBinary } from './lib/tools.mjs'

const tools = {
  'node 22': nodeBinary(22),
  'node 24': nodeBinary(24),
  bun: bunBinary(),
  deno: denoBinary(),
}
for (const [name, promise] of Object.entries(tools)) {
  const t = await promise
  console.log(
    `[tools] ${name}: ${'skip' in t ? `not available — ${t.skip}` : `${t.version} (${t.bin})`}`,
  )
}
