/**
 * The virtual module the bench build generates (see build.ts): every Sturdy package that
 * exists and builds, as a namespace object, and a reason for each one that does not.
 * Typed loosely on purpose: the packages are written while the suite grows, and a
 * contender must keep compiling whatever state they are in.
 */
declare module 'sturdy:packages' {
  export const packages: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>
  export const missing: Readonly<Record<string, string>>
}
