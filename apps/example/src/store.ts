/** A user of the example service. */
export interface User {
  readonly id: string
  readonly name: string
  readonly email: string
}

/** Where users live. In-memory for now; a later issue puts a real dependency behind it. */
export interface UserStore {
  get(id: string, signal?: AbortSignal): Promise<User | undefined>
  create(input: Omit<User, 'id'>, signal?: AbortSignal): Promise<User>
}

/** An in-memory store with sequential ids. */
export function memoryStore(seed: readonly User[] = []): UserStore {
  const users = new Map(seed.map((u) => [u.id, u]))
  let next = seed.length + 1
  return {
    async get(id, signal) {
      signal?.throwIfAborted()
      return users.get(id)
    },
    async create(input, signal) {
      signal?.throwIfAborted()
      const user = { id: String(next++), ...input }
      users.set(user.id, user)
      return user
    },
  }
}
