// `express4` is `npm:express@^4` (a devDependency alias); its API is typed as Express's.
declare module 'express4' {
  import express from 'express'
  export default express
}
