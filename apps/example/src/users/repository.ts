import type { Queryable } from '../db/database.ts'

/** A user, as the users service stores and returns it. */
export interface User {
  id: string
  name: string
  email: string
}

/** The email is taken by another user. */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError'
  constructor(readonly email: string) {
    super(`A user with email ${email} already exists`)
  }
}

/** Users in SQL. Every query takes the caller's signal. */
export interface UserRepository {
  get(id: string, signal?: AbortSignal): Promise<User | undefined>
  create(input: { name: string; email: string }, signal?: AbortSignal): Promise<User>
}

interface UserRow {
  id: string | number
  name: string
  email: string
}

const toUser = (row: UserRow): User => ({ id: String(row.id), name: row.name, email: row.email })

/** A `UserRepository` on the app's database (PGlite or PostgreSQL). */
export function userRepository(db: Queryable): UserRepository {
  return {
    async get(id, signal) {
      // Ids are bigints: anything else cannot match, and must not reach the SQL cast.
      if (!/^[1-9][0-9]{0,17}$/.test(id)) return undefined
      const rows = await db.query<UserRow>(
        'SELECT id::text AS id, name, email FROM users WHERE id = $1',
        [id],
        signal,
      )
      return rows[0] === undefined ? undefined : toUser(rows[0])
    },
    async create(input, signal) {
      const rows = await db.query<UserRow>(
        `INSERT INTO users (name, email) VALUES ($1, $2)
         ON CONFLICT (email) DO NOTHING
         RETURNING id::text AS id, name, email`,
        [input.name, input.email],
        signal,
      )
      if (rows[0] === undefined) throw new EmailTakenError(input.email)
      return toUser(rows[0])
    },
  }
}
