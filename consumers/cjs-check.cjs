// A CommonJS consumer: require() every published entry point (Node >= 20.19 loads ESM
// through require) and report, per entry, how many exports it has or why it failed.
// Copied into the CommonJS project by consumers/run.mjs.
//
//   node cjs-check.cjs '["@sturdy/core", "@sturdy/core/testing"]'

const results = {}
for (const spec of JSON.parse(process.argv[2])) {
  try {
    const ns = require(spec)
    const names = Object.keys(ns).filter((n) => n !== '__esModule' && n !== 'module.exports')
    const missing = names.filter((n) => ns[n] === undefined)
    results[spec] =
      names.length === 0
        ? { error: 'require() returned no exports' }
        : missing.length > 0
          ? { error: `undefined exports: ${missing.join(', ')}` }
          : { exports: names.length }
  } catch (error) {
    results[spec] = { error: `${error.code ?? error.name}: ${error.message.split('\n')[0]}` }
  }
}
console.log(`@@sturdy-result ${JSON.stringify(results)}`)
