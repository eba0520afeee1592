import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  // node:http/node:async_hooks are real imports here; keep `.js` names like the
  // other packages (platform 'node' would otherwise emit `.mjs`).
  platform: 'node',
  fixedExtension: false,
  dts: true,
  sourcemap: true,
})
