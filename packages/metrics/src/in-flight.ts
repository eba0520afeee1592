import type { Gauge } from 'prom-client'
import type { AnyRegistry } from './instruments.ts'
import { gaugeOn } from './instruments.ts'

/** One label value's in-flight count: `inc()` when a request starts, `dec()` when it ends. */
export interface InFlightCell {
  inc(): void
  dec(): void
}

/** The cells of one middleware instance, by label value. */
type Cells = Map<string, CountCell>

/**
 * The instances counting into each gauge this module created. Keyed weakly by the gauge
 * (which belongs to an injected registry), so nothing outlives the registry.
 */
const SOURCES = new WeakMap<Gauge, Set<Cells>>()

/**
 * An in-flight gauge with one label, counted in plain numbers and written to the gauge
 * when the registry is scraped: a request costs `n++` and `n--` instead of two
 * prom-client `inc`/`dec` calls (each validates and hashes its labels). Several
 * instances on one registry add up. A gauge of that name created elsewhere (not through
 * this function) is counted into directly, as before.
 *
 * @param registry where the gauge lives
 * @param shape the gauge's name, help and its one label name
 * @returns the cell for a label value (cached per value by the caller)
 */
export function inFlightGauge(
  registry: AnyRegistry,
  shape: { name: string; help: string; labelName: string },
): (value: string) => InFlightCell {
  const labelName = shape.labelName
  const existed = registry.getSingleMetric(shape.name) !== undefined
  const gauge = gaugeOn(registry, {
    name: shape.name,
    help: shape.help,
    labelNames: [labelName],
    collect(this: Gauge) {
      const sources = SOURCES.get(this)
      if (sources === undefined) return
      const totals = new Map<string, number>()
      for (const cells of sources) {
        for (const [value, cell] of cells) totals.set(value, (totals.get(value) ?? 0) + cell.n)
      }
      for (const [value, n] of totals) this.set({ [labelName]: value }, n)
    },
  })
  let sources = SOURCES.get(gauge)
  if (sources === undefined && !existed) {
    sources = new Set()
    SOURCES.set(gauge, sources)
  }
  if (sources === undefined) return (value) => gauge.labels(value)
  const cells: Cells = new Map()
  sources.add(cells)
  return (value) => {
    let cell = cells.get(value)
    if (cell === undefined) {
      cell = new CountCell()
      cells.set(value, cell)
    }
    return cell
  }
}

class CountCell implements InFlightCell {
  n = 0
  inc(): void {
    this.n++
  }
  dec(): void {
    this.n--
  }
}
