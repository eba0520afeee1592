import { errorGuard, SturdyError } from '@sturdy/core'

/**
 * The error a fault chaos throws (policy) or answers with (middleware) when no `fault`
 * is given: 503, code `CHAOS_FAULT`, with a message that says it was injected, so a
 * drill is never mistaken for an outage.
 */
export class InjectedFaultError extends SturdyError {
  /** The name of the chaos that injected it. */
  readonly chaos: string
  /** @param chaos the name of the chaos that injected it */
  constructor(chaos: string) {
    super('CHAOS_FAULT', `Fault injected by chaos "${chaos}"`, 503)
    this.name = 'InjectedFaultError'
    this.chaos = chaos
  }
}

/** True for an `InjectedFaultError` from any copy of the package. */
export const isInjectedFaultError: (error: unknown) => error is InjectedFaultError =
  errorGuard<InjectedFaultError>('CHAOS_FAULT')
