import { defineConfig } from 'tsdown'

// One built entry point, `node dist/main.js`: the workspace's @sturdy/* packages are
// bundled from source (their workspace exports point at .ts files), everything from
// npm stays a runtime dependency in node_modules.
export default defineConfig({
  entry: ['src/main.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: false,
  sourcemap: true,
  noExternal: [/^@sturdy\//],
  fixedExtension: false,
})
