// Context for the fragments in packages/tracing/README.md (see consumers/README.md).
import { Hono } from 'hono'

const app = new Hono()
