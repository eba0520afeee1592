/**
 * @module
 * The example system's `UserService` (`sturdy.example.user.v1`): the code `buf generate`
 * makes from `proto/` (run `pnpm generate`; never edited, never committed) and a
 * reference implementation.
 */
export * from './gen/sturdy/example/user/v1/user_service_pb.ts'
export type { UserStore } from './user-service.ts'
export { memoryStore, userService } from './user-service.ts'
