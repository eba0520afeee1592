/**
 * The abort reason of abort-on-return: the call (or group) this signal belonged to has
 * settled, so whatever it left running with the signal should stop. One shared,
 * frozen instance: building a DOMException per call would capture a stack each time.
 */
export const SETTLED: DOMException = Object.freeze(
  new DOMException('The call this signal belonged to has settled', 'AbortError'),
)
