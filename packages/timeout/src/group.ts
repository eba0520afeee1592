import type { AbortSubscriber, SturdyErrorOptions } from '@sturdy/core'
import { AbortFanout, errorGuard, isSturdyError, SturdyError } from '@sturdy/core'
import { SETTLED } from './settled.ts'

/**
 * Groups under one parent signal share a single listener on it, so many concurrent
 * groups under a long-lived signal (a worker's shutdown signal) never trip Node's
 * MaxListenersExceededWarning. Module-level because `group()` has no instance to own
 * it; it holds signals weakly and nothing in it is configurable.
 */
const parents = new AbortFanout<AbortSubscriber>()

/** Options of `group()` and `concurrent()`. */
export interface GroupOptions {
  /**
   * Parent signal (the request's `c.var.signal`): when it aborts, the group's signal
   * aborts with the same reason, queued tasks never start, and `wait()` rejects with
   * that reason (unless a task failed on its own first).
   * @default undefined
   */
  signal?: AbortSignal
  /**
   * Most tasks running at once; later ones queue in `go()` order. A positive integer or
   * `Infinity`.
   * @default Infinity
   */
  limit?: number
}

/** What a group task receives. */
export interface GroupTaskContext {
  /** The group's signal: aborts on the first failure, on the parent's abort, and when the group finishes. */
  readonly signal: AbortSignal
  /** The task's position in `go()` order, which is its slot in the results. */
  readonly index: number
}

/** A task run by a group. */
export type GroupTask<T> = (ctx: GroupTaskContext) => PromiseLike<T> | T

/** A set of concurrent tasks under one signal (Go's `errgroup.WithContext`). */
export interface Group<T> {
  /** The signal every task gets; hand it to everything the tasks start. */
  readonly signal: AbortSignal
  /**
   * Starts `task` (or queues it behind the concurrency limit). After the group has
   * been cancelled the task is not started. Throws once `wait()` has settled.
   * @returns the task's index in the results
   */
  go(task: GroupTask<T>): number
  /**
   * Waits for every task started with `go()` — including after a failure, so no work
   * outlives the group — then resolves with the results in `go()` order, or rejects
   * with one `GroupError` carrying every failure (or with the parent's abort reason
   * when the parent cancelled the group and no task failed on its own). Then the
   * group's signal aborts (abort-on-return).
   */
  wait(): Promise<T[]>
}

/** One failed task of a group. */
export interface GroupFailure {
  /** The task's index in `go()` order. */
  readonly index: number
  readonly error: unknown
}

/**
 * A group failed: carries every task failure, like `AggregateError`, in the order they
 * happened. `cause` is the first; so is `status`, when the first is a Sturdy error (a
 * task's `TimeoutError` still renders as 504), else 500. Cancellation echoes — tasks
 * that merely rejected because the group aborted them — are not counted as failures.
 *
 * @example
 * const error = new GroupError([{ index: 1, error: new Error('stock down') }], 3)
 * error.message // '1 of 3 group tasks failed'
 */
export class GroupError extends SturdyError {
  /** Every failure, first first. */
  readonly failures: readonly GroupFailure[]
  /** The failures' errors, as `AggregateError.errors`. */
  readonly errors: readonly unknown[]

  /**
   * @param failures every failure, in the order they happened (at least one)
   * @param tasks how many tasks the group ran
   * @param options `cause`; @default the first failure
   */
  constructor(failures: readonly GroupFailure[], tasks: number, options?: SturdyErrorOptions) {
    const first = failures[0]?.error
    const sturdy = isSturdyError(first) ? first : undefined
    const head = `${failures.length} of ${tasks} group tasks failed`
    // Only an exposable first message may reach the client through this one.
    super(
      'GROUP_FAILED',
      sturdy?.expose ? `${head}: ${sturdy.message}` : head,
      sturdy?.status ?? 500,
      { cause: options?.cause ?? first },
    )
    this.name = 'GroupError'
    this.failures = failures
    this.errors = failures.map((f) => f.error)
  }
}

/**
 * True for a `GroupError` from any copy of the package.
 *
 * @param error anything caught
 * @returns whether it is a `GroupError`
 * @example
 * try {
 *   await concurrent([loadUser, loadStock])
 * } catch (error) {
 *   if (isGroupError(error)) for (const f of error.failures) console.warn(f.index, f.error)
 * }
 */
export const isGroupError: (error: unknown) => error is GroupError =
  errorGuard<GroupError>('GROUP_FAILED')

/**
 * Runs tasks concurrently under one signal, Go's `errgroup.WithContext` done for
 * promises: the first failure aborts the siblings, `wait()` waits for all of them and
 * returns the results in order or one error carrying every failure. No rejection is
 * ever left unhandled: tasks' promises are always observed, and nothing rejects until
 * you call `wait()`.
 *
 * @param options see `GroupOptions`
 * @returns a `Group`: `go(task)`, `wait()`, `signal`
 * @example
 * import { group } from '@sturdy/timeout'
 *
 * const g = group<Response>({ signal: AbortSignal.timeout(1000), limit: 4 })
 * for (const id of [1, 2, 3]) g.go(({ signal }) => fetch(`http://127.0.0.1:9000/items/${id}`, { signal }))
 * const responses = await g.wait()
 */
export function group<T = unknown>(options: GroupOptions = {}): Group<T> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  if (!(limit >= 1) || (limit !== Number.POSITIVE_INFINITY && !Number.isInteger(limit))) {
    throw new RangeError(`limit must be a positive integer or Infinity, got ${limit}`)
  }
  return new TaskGroup<T>(limit, options.signal)
}

/** The results of a tuple of tasks, in order. */
export type GroupResults<Tasks extends readonly GroupTask<unknown>[]> = {
  -readonly [K in keyof Tasks]: Tasks[K] extends (...args: never[]) => infer R ? Awaited<R> : never
}

/**
 * Runs a fixed list of tasks with `group()` semantics and returns their results as a
 * typed tuple: the article's `processOrder` fan-out in one line.
 *
 * @param tasks the tasks, each given `{ signal, index }`
 * @param options see `GroupOptions`
 * @returns the results in order; rejects like `Group.wait()`
 * @example
 * import { concurrent } from '@sturdy/timeout'
 *
 * const [user, stock] = await concurrent(
 *   [
 *     ({ signal }) => fetch('http://127.0.0.1:9000/users/1', { signal }).then((r) => r.json()),
 *     ({ signal }) => fetch('http://127.0.0.1:9001/stock/7', { signal }).then((r) => r.json()),
 *   ],
 *   { signal: AbortSignal.timeout(500) },
 * )
 */
export function concurrent<const Tasks extends readonly GroupTask<unknown>[]>(
  tasks: Tasks,
  options?: GroupOptions,
): Promise<GroupResults<Tasks>> {
  const g = group<unknown>(options)
  for (const task of tasks) g.go(task)
  return g.wait() as Promise<GroupResults<Tasks>>
}

class TaskGroup<T> implements Group<T> {
  readonly #limit: number
  readonly #controller = new AbortController()
  readonly #parent: AbortSignal | undefined
  readonly #results: T[] = []
  readonly #failures: GroupFailure[] = []
  readonly #queue: Array<{ index: number; task: GroupTask<T> }> = []
  #queueHead = 0
  #count = 0
  #running = 0
  #cancelledByParent = false
  #waiting: Promise<T[]> | undefined
  #settleWait: ((finish: () => void) => void) | undefined
  #finished = false

  constructor(limit: number, parent: AbortSignal | undefined) {
    this.#limit = limit
    this.#parent = parent
    if (parent === undefined) return
    if (parent.aborted) this.#onParentAbort()
    else parents.add(parent, this.#parentSubscriber)
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  go(task: GroupTask<T>): number {
    if (this.#finished) throw new Error('group.go() called after wait() settled')
    const index = this.#count++
    this.#results.length = this.#count
    if (this.#controller.signal.aborted) return index
    if (this.#running < this.#limit) this.#start(index, task)
    else this.#queue.push({ index, task })
    return index
  }

  wait(): Promise<T[]> {
    if (this.#waiting !== undefined) return this.#waiting
    this.#waiting = new Promise<T[]>((resolve, reject) => {
      this.#settleWait = (finish) => {
        finish()
        const failures = this.#failures
        if (failures.length > 0) reject(new GroupError(failures, this.#count))
        else if (this.#cancelledByParent) reject((this.#parent as AbortSignal).reason)
        else resolve(this.#results)
      }
    })
    this.#maybeFinish()
    return this.#waiting
  }

  #start(index: number, task: GroupTask<T>): void {
    this.#running++
    let pending: PromiseLike<T> | T
    try {
      pending = task({ signal: this.#controller.signal, index })
    } catch (error) {
      // Settle asynchronously like a rejected promise, so go() never re-enters wait().
      pending = Promise.reject(error)
    }
    Promise.resolve(pending).then(
      (value) => {
        this.#results[index] = value
        this.#taskDone()
      },
      (error: unknown) => {
        this.#taskFailed(index, error)
        this.#taskDone()
      },
    )
  }

  #taskFailed(index: number, error: unknown): void {
    const signal = this.#controller.signal
    if (signal.aborted && (error === signal.reason || isAbortError(error))) return
    this.#failures.push({ index, error })
    // The first failure cancels the siblings; they see it as the signal's reason.
    if (!signal.aborted) this.#controller.abort(error)
  }

  #taskDone(): void {
    this.#running--
    const queue = this.#queue
    if (this.#controller.signal.aborted) {
      // Cancelled: queued tasks never start.
      queue.length = 0
      this.#queueHead = 0
    }
    while (this.#running < this.#limit && this.#queueHead < queue.length) {
      const next = queue[this.#queueHead] as { index: number; task: GroupTask<T> }
      queue[this.#queueHead++] = undefined as never
      this.#start(next.index, next.task)
    }
    if (this.#queueHead === queue.length) {
      queue.length = 0
      this.#queueHead = 0
    }
    this.#maybeFinish()
  }

  #maybeFinish(): void {
    if (this.#finished || this.#settleWait === undefined || this.#running > 0) return
    if (this.#queueHead < this.#queue.length) return
    this.#finished = true
    this.#settleWait(this.#release)
  }

  readonly #release = (): void => {
    if (this.#parent !== undefined) parents.remove(this.#parent, this.#parentSubscriber)
    if (!this.#controller.signal.aborted) this.#controller.abort(SETTLED)
  }

  readonly #parentSubscriber: AbortSubscriber = { onAbort: () => this.#onParentAbort() }

  readonly #onParentAbort = (): void => {
    if (this.#controller.signal.aborted) return
    this.#cancelledByParent = true
    this.#controller.abort((this.#parent as AbortSignal).reason)
  }
}

function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'AbortError'
  )
}
