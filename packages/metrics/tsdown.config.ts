import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  // prom-client is Node-only and serveMetrics uses node:http.
  platform: 'node',
  // Keep the template's .js / .d.ts names (platform 'node' would default to .mjs).
  fixedExtension: false,
  dts: true,
  sourcemap: true,
})
