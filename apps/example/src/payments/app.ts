import { randomUUID } from 'node:crypto'
import type { Hono } from 'hono'
import { z } from 'zod'
import { readJson } from '../platform/body.ts'
import { BoundedMap } from '../platform/bounded-map.ts'
import { faultInjection } from '../platform/faults.ts'
import { replayLedger } from '../platform/replay.ts'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { problem, serviceApp } from '../platform/service.ts'

/** A captured (or refunded) charge. */
export interface Charge {
  id: string
  orderId: string
  userId: string
  amountCents: number
  currency: string
  status: 'captured' | 'refunded'
}

const NewCharge = z.object({
  orderId: z.uuid(),
  userId: z.string().min(1).max(64),
  amountCents: z.int().positive().max(100_000_000),
  currency: z.enum(['EUR', 'USD', 'GBP']),
})

const NewRefund = z.object({ orderId: z.uuid() })

/** The routes chaos applies to: charging, not refunding (compensation must get through). */
export const PAYMENTS_FAULT_ROUTES = ['POST /charges'] as const

/**
 * The payments service: charges (idempotent by `Idempotency-Key`) and refunds by order,
 * in memory. A refund for an order whose charge has not arrived yet leaves a tombstone,
 * so a charge that arrives late (a retry still in flight when the gateway compensated)
 * is refused rather than taken.
 */
export function paymentsApp(ctx: ServiceContext): Hono<AppEnv> {
  const faults = faultInjection(ctx, PAYMENTS_FAULT_ROUTES)
  const app = serviceApp(ctx, { extra: faults.middleware })
  const charges = new BoundedMap<string, Charge>(10_000)
  const byOrder = new BoundedMap<string, Charge | 'refunded'>(10_000)
  const ledger = replayLedger()

  app.post('/charges', async (c) => {
    const input = await readJson(c, NewCharge, { limit: 4096 })
    if (byOrder.get(input.orderId) === 'refunded') {
      return problem(c, 409, `Order ${input.orderId} was refunded; it cannot be charged`, {
        code: 'ORDER_REFUNDED',
      })
    }
    return ledger.once(c, input, () => {
      const existing = byOrder.get(input.orderId)
      if (existing !== undefined && existing !== 'refunded') return { status: 200, body: existing }
      const charge: Charge = { id: `ch_${randomUUID()}`, ...input, status: 'captured' }
      charges.set(charge.id, charge)
      byOrder.set(charge.orderId, charge)
      c.var.log.info({ charge_id: charge.id, order_id: charge.orderId }, 'charge captured')
      return { status: 201, body: charge }
    })
  })

  app.post('/refunds', async (c) => {
    const { orderId } = await readJson(c, NewRefund, { limit: 1024 })
    const charge = byOrder.get(orderId)
    if (charge === undefined || charge === 'refunded') {
      byOrder.set(orderId, 'refunded')
      return c.json({ orderId, refunded: false, reason: 'no charge for this order' })
    }
    charge.status = 'refunded'
    c.var.log.info({ charge_id: charge.id, order_id: orderId }, 'charge refunded')
    return c.json({ orderId, refunded: true, chargeId: charge.id })
  })

  app.get('/charges/:id', (c) => {
    const charge = charges.get(c.req.param('id'))
    return charge === undefined
      ? problem(c, 404, `No charge with id ${c.req.param('id')}`)
      : c.json(charge)
  })
  return app
}
