// Reference: bare Fastify 5 (logger off, its default).
import Fastify from 'fastify'
import { addFastifyRoute, serveFastify } from '../lib/fastify-app.ts'

await serveFastify(addFastifyRoute(Fastify()), { missing: [], stack: ['fastify'] })
