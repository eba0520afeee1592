import { randomUUID } from 'node:crypto'
import type { Hono } from 'hono'
import { z } from 'zod'
import { readJson } from '../platform/body.ts'
import { BoundedMap } from '../platform/bounded-map.ts'
import { faultInjection } from '../platform/faults.ts'
import { replayLedger } from '../platform/replay.ts'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { problem, serviceApp } from '../platform/service.ts'

/** A scheduled (or cancelled) delivery. */
export interface Delivery {
  id: string
  orderId: string
  address: { street: string; city: string; country: string }
  status: 'scheduled' | 'cancelled'
  /** ISO date of the planned delivery. */
  eta: string
}

const Address = z.object({
  street: z.string().trim().min(1).max(200),
  city: z.string().trim().min(1).max(100),
  country: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 alpha-2 country code'),
})
const NewDelivery = z.object({ orderId: z.uuid(), address: Address })
const NewCancellation = z.object({ orderId: z.uuid() })

/** The routes chaos applies to: scheduling, not cancelling. */
export const DELIVERY_FAULT_ROUTES = ['POST /deliveries'] as const

/**
 * The delivery service: schedules deliveries (idempotent by `Idempotency-Key`) and
 * cancels them by order, in memory; a cancellation that comes first leaves a tombstone.
 */
export function deliveryApp(ctx: ServiceContext): Hono<AppEnv> {
  const faults = faultInjection(ctx, DELIVERY_FAULT_ROUTES)
  const app = serviceApp(ctx, { extra: faults.middleware })
  const deliveries = new BoundedMap<string, Delivery>(10_000)
  const byOrder = new BoundedMap<string, Delivery | 'cancelled'>(10_000)
  const ledger = replayLedger()

  app.post('/deliveries', async (c) => {
    const input = await readJson(c, NewDelivery, { limit: 4096 })
    if (byOrder.get(input.orderId) === 'cancelled') {
      return problem(c, 409, `Order ${input.orderId} was cancelled; it cannot be delivered`, {
        code: 'ORDER_CANCELLED',
      })
    }
    return ledger.once(c, input, () => {
      const existing = byOrder.get(input.orderId)
      if (existing !== undefined && existing !== 'cancelled') return { status: 200, body: existing }
      const eta = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10)
      const delivery: Delivery = { id: `dl_${randomUUID()}`, ...input, status: 'scheduled', eta }
      deliveries.set(delivery.id, delivery)
      byOrder.set(delivery.orderId, delivery)
      c.var.log.info({ delivery_id: delivery.id, order_id: delivery.orderId }, 'delivery scheduled')
      return { status: 201, body: delivery }
    })
  })

  app.post('/cancellations', async (c) => {
    const { orderId } = await readJson(c, NewCancellation, { limit: 1024 })
    const delivery = byOrder.get(orderId)
    if (delivery === undefined || delivery === 'cancelled') {
      byOrder.set(orderId, 'cancelled')
      return c.json({ orderId, cancelled: false, reason: 'no delivery for this order' })
    }
    delivery.status = 'cancelled'
    c.var.log.info({ delivery_id: delivery.id, order_id: orderId }, 'delivery cancelled')
    return c.json({ orderId, cancelled: true, deliveryId: delivery.id })
  })

  app.get('/deliveries/:id', (c) => {
    const delivery = deliveries.get(c.req.param('id'))
    return delivery === undefined
      ? problem(c, 404, `No delivery with id ${c.req.param('id')}`)
      : c.json(delivery)
  })
  return app
}
