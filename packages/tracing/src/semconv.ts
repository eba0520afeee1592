/**
 * Attribute and event names, copied rather than imported: OpenTelemetry's guidelines
 * forbid importing `@opentelemetry/semantic-conventions/incubating` at runtime, and the
 * stable names below are few enough that a dependency on the whole package is not
 * worth it. Every `http.*`, `url.*`, `server.*`, `user_agent.*` and `error.*` name here
 * is *stable* in the HTTP semantic conventions (semconv ≥ 1.23).
 *
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server
 */

export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method'
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original'
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code'
export const ATTR_HTTP_ROUTE = 'http.route'
export const ATTR_URL_PATH = 'url.path'
export const ATTR_URL_SCHEME = 'url.scheme'
export const ATTR_SERVER_ADDRESS = 'server.address'
export const ATTR_SERVER_PORT = 'server.port'
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original'
export const ATTR_ERROR_TYPE = 'error.type'
export const ATTR_URL_FULL = 'url.full'
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count'

/** The `error.type` value for errors with no better low-cardinality name. */
export const ERROR_TYPE_VALUE_OTHER = '_OTHER'

// Sturdy's own names, under the `sturdy.` namespace so they never collide with semconv.
export const ATTR_STURDY_POLICY_NAME = 'sturdy.policy.name'
export const ATTR_STURDY_RETRY_ATTEMPT = 'sturdy.retry.attempt'
export const ATTR_STURDY_RETRY_ATTEMPTS = 'sturdy.retry.attempts'
export const ATTR_STURDY_RETRY_DELAY_MS = 'sturdy.retry.delay_ms'
export const ATTR_STURDY_RETRY_GIVE_UP_REASON = 'sturdy.retry.give_up_reason'
export const ATTR_STURDY_BREAKER_FROM = 'sturdy.breaker.from'
export const ATTR_STURDY_BREAKER_TO = 'sturdy.breaker.to'
export const ATTR_STURDY_BREAKER_STATE = 'sturdy.breaker.state'
export const ATTR_STURDY_BREAKER_REASON = 'sturdy.breaker.reason'
export const ATTR_STURDY_BREAKER_RETRY_AFTER_MS = 'sturdy.breaker.retry_after_ms'
export const ATTR_STURDY_RATE_LIMIT_COST = 'sturdy.rate_limit.cost'
export const ATTR_STURDY_RATE_LIMIT_RETRY_AFTER_MS = 'sturdy.rate_limit.retry_after_ms'
export const ATTR_STURDY_RATE_LIMIT_FALLBACK_REASON = 'sturdy.rate_limit.fallback_reason'
export const ATTR_STURDY_RATE_LIMIT_FALLBACK_MODE = 'sturdy.rate_limit.fallback_mode'
export const ATTR_STURDY_ABORT_KIND = 'sturdy.abort.kind'
export const ATTR_STURDY_LIMIT_REASON = 'sturdy.limit.reason'
export const ATTR_STURDY_LIMIT_PRIORITY = 'sturdy.limit.priority'
export const ATTR_STURDY_CHAOS_KIND = 'sturdy.chaos.kind'
export const ATTR_STURDY_CHAOS_SCOPE = 'sturdy.chaos.scope'
export const ATTR_STURDY_CHAOS_LATENCY_MS = 'sturdy.chaos.latency_ms'
/** On a server span: every chaos injected into the request, as `kind:name` strings. */
export const ATTR_STURDY_CHAOS_INJECTED = 'sturdy.chaos.injected'
export const ATTR_STURDY_HEDGE_ATTEMPT = 'sturdy.hedge.attempt'
export const ATTR_STURDY_HEDGE_ATTEMPTS = 'sturdy.hedge.attempts'
export const ATTR_STURDY_HEDGE_TRIGGER = 'sturdy.hedge.trigger'
export const ATTR_STURDY_HEDGE_DELAY_MS = 'sturdy.hedge.delay_ms'

export const EVENT_RETRY = 'sturdy.retry'
export const EVENT_RETRY_GIVE_UP = 'sturdy.retry.give_up'
export const EVENT_RETRY_BUDGET_EXHAUSTED = 'sturdy.retry.budget_exhausted'
export const EVENT_BREAKER_STATE_CHANGE = 'sturdy.breaker.state_change'
export const EVENT_BREAKER_REJECTED = 'sturdy.breaker.rejected'
export const EVENT_RATE_LIMIT_REJECTED = 'sturdy.rate_limit.rejected'
export const EVENT_RATE_LIMIT_FALLBACK = 'sturdy.rate_limit.fallback'
export const EVENT_LIMIT_SHED = 'sturdy.limit.shed'
export const EVENT_DEADLINE_EXCEEDED = 'sturdy.deadline.exceeded'
export const EVENT_REQUEST_ABORTED = 'sturdy.request.aborted'
export const EVENT_CHAOS_INJECTED = 'sturdy.chaos.injected'
export const EVENT_HEDGE = 'sturdy.hedge'
export const EVENT_HEDGE_WON = 'sturdy.hedge.won'
export const EVENT_HEDGE_BUDGET_EXHAUSTED = 'sturdy.hedge.budget_exhausted'
