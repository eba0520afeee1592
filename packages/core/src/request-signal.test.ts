import { describe, expect, it } from 'vitest'
import { abortKind, ClientClosedError, RequestSignal } from './index.ts'

/** An adapter's exchange in miniature: it says how to watch its client, nothing more. */
class Watched extends RequestSignal {
  watches = 0
  gone = false
  leave: (() => void) | undefined
  protected override watchClient(): void {
    this.watches++
    this.leave = () => this.clientClosed()
  }
  protected override clientGone(): boolean {
    return this.gone
  }
}

describe('RequestSignal', () => {
  it('creates the signal on first read only, and watches the client from then on, once', () => {
    const rs = new Watched()
    expect(rs.aborted).toBe(false)
    expect(rs.watches).toBe(0)
    const signal = rs.signal
    expect(rs.signal).toBe(signal)
    expect(rs.watches).toBe(1)
    rs.leave?.()
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBeInstanceOf(ClientClosedError)
    expect(abortKind(signal.reason)).toBe('client-disconnect')
  })

  it('abort() before the signal exists: the signal is born aborted with that reason, unwatched', () => {
    const rs = new Watched()
    const why = new Error('deadline')
    rs.abort(why)
    rs.abort(new Error('ignored'))
    expect(rs.aborted).toBe(true)
    expect(rs.signal.aborted).toBe(true)
    expect(rs.signal.reason).toBe(why)
    expect(rs.watches).toBe(0)
  })

  it('abort() after the signal exists aborts it once, first reason wins', () => {
    const rs = new Watched()
    const reasons: unknown[] = []
    rs.signal.addEventListener('abort', () => reasons.push(rs.signal.reason))
    rs.abort('first')
    rs.abort('second')
    rs.leave?.()
    expect(reasons).toEqual(['first'])
  })

  it('aborted asks clientGone() while nobody watches, creating no signal', () => {
    const rs = new Watched()
    rs.gone = true
    expect(rs.aborted).toBe(true)
    expect(rs.watches).toBe(0)
    expect(rs.signal.reason).toBeInstanceOf(ClientClosedError)
  })

  it('aborted does not ask clientGone() once a signal watches the client', () => {
    const rs = new Watched()
    void rs.signal
    rs.gone = true
    expect(rs.aborted).toBe(false)
  })

  it('a plain RequestSignal never reports the client gone by itself', () => {
    const rs = new RequestSignal()
    expect(rs.aborted).toBe(false)
    expect(rs.signal.aborted).toBe(false)
  })
})
