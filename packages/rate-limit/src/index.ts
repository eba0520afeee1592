/**
 * @module
 * `@sturdy/rate-limit`: rate limiting per client, user, API key or route. A token bucket
 * (GCRA) and a sliding window counter, each with a cost per request; a bounded in-memory
 * store and a Redis store where every decision is one atomic Lua script on Redis's own
 * clock, falling back to a local limit (with an event) when Redis is down or slow; a
 * server middleware answering 429 problem+json with `Retry-After` and the IETF
 * `RateLimit` / `RateLimit-Policy` headers; a policy for outgoing calls; and a client-IP
 * key with explicit trusted proxies. Web-standard code only: it runs on Node, Bun and Deno.
 */
export type {
  AppliedDecision,
  Degraded,
  RateLimitAlgorithm,
  RateLimitDecision,
} from './algorithm.ts'
export type { ClientIpOptions } from './client-ip.ts'
export { clientIp, UNKNOWN_CLIENT } from './client-ip.ts'
export { isRateLimitedError, RateLimitedError } from './errors.ts'
export type { RateLimitHeaders } from './headers.ts'
export type { MemoryStore, MemoryStoreOptions } from './memory-store.ts'
export { memoryStore } from './memory-store.ts'
export type { RateLimitMiddleware, RateLimitOptions } from './middleware.ts'
export { QUOTA_EXCEEDED_TYPE, rateLimit } from './middleware.ts'
export type { RateLimitPolicy, RateLimitPolicyOptions } from './rate-limit-policy.ts'
export { rateLimitPolicy } from './rate-limit-policy.ts'
export type { RateLimiter, RateLimiterOptions } from './rate-limiter.ts'
export { rateLimiter } from './rate-limiter.ts'
export type { IoredisLike, RedisClient } from './redis-client.ts'
export { ioredisClient } from './redis-client.ts'
export type { RedisStore, RedisStoreOptions } from './redis-store.ts'
export { redisStore } from './redis-store.ts'
export type { SlidingWindowOptions } from './sliding-window.ts'
export { slidingWindow } from './sliding-window.ts'
export type { RateLimitStore } from './store.ts'
export type { TokenBucketOptions } from './token-bucket.ts'
export { tokenBucket } from './token-bucket.ts'
