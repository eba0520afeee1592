import { defineConfig } from 'tsdown'

export default defineConfig({
  // `node` holds the Node-only signals (node:perf_hooks); the main entry stays neutral.
  entry: ['src/index.ts', 'src/node.ts'],
  format: 'esm',
  platform: 'neutral',
  dts: true,
  sourcemap: true,
})
