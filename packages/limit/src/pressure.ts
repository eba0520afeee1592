/**
 * A runtime overload signal besides latency, for the middleware: how much of the
 * non-critical traffic to shed right now. The middleware stays runtime-neutral; the Node
 * signal (`eventLoopPressure()`, from `@sturdy/limit/node`) reads the event-loop delay,
 * which also grows with work queued *before* the middleware, where latency cannot see it.
 */
export interface PressureSignal {
  /**
   * The probability, in [0, 1], with which a `normal` request is shed now (`sheddable`
   * ones twice as likely; `critical` and `never` ones are not affected).
   */
  probability(): number
}
