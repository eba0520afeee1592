/** The two exposition formats prom-client writes. */
export type ExpositionFormat = 'prometheus' | 'openmetrics'

/**
 * Picks the exposition format for an `Accept` header. The client's preference wins by
 * `q` value; a tie, a wildcard-only or a missing header gives the registry's own format.
 * Prometheus itself sends `application/openmetrics-text;version=1.0.0,...,text/plain;
 * version=0.0.4;q=0.5,*\/*;q=0.1`, so it gets OpenMetrics (and exemplars).
 *
 * @param accept the request's `Accept` header
 * @param own the registry's own format, used when the client has no preference
 * @returns the format to answer with
 * @example
 * negotiateFormat('application/openmetrics-text; version=1.0.0', 'prometheus') // 'openmetrics'
 */
export function negotiateFormat(
  accept: string | undefined,
  own: ExpositionFormat,
): ExpositionFormat {
  if (accept === undefined || accept === '') return own
  let openMetrics = -1
  let text = -1
  let any = -1
  let anyApplication = -1
  let anyText = -1
  for (const range of accept.split(',')) {
    const [rawType = '', ...params] = range.split(';')
    const type = rawType.trim().toLowerCase()
    const q = quality(params)
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q)
    else if (type === 'text/plain') text = Math.max(text, q)
    else if (type === '*/*') any = Math.max(any, q)
    else if (type === 'application/*') anyApplication = Math.max(anyApplication, q)
    else if (type === 'text/*') anyText = Math.max(anyText, q)
  }
  // A specific range beats a wildcard one (RFC 9110 §12.5.1), whatever their q.
  const om = openMetrics >= 0 ? openMetrics : anyApplication >= 0 ? anyApplication : any
  const tp = text >= 0 ? text : anyText >= 0 ? anyText : any
  if (om > tp && om > 0) return 'openmetrics'
  if (tp > om && tp > 0) return 'prometheus'
  return own
}

function quality(params: readonly string[]): number {
  for (const param of params) {
    const [key, value] = param.split('=')
    if (key?.trim().toLowerCase() === 'q') {
      const q = Number(value?.trim())
      return Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1
    }
  }
  return 1
}
