/**
 * Response validation through Standard Schema (zod ≥ 3.24, valibot, arktype, ...): the
 * client depends on no validator, so zod stays the application's choice. The interface
 * is copied from the spec, as it asks, rather than imported.
 *
 * @see https://standardschema.dev
 */
import type { FieldIssue } from '@sturdy/core'

/** A Standard Schema v1 validator (the `~standard` property zod, valibot and arktype carry). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

/** What a Standard Schema validator returns. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> }

/** One problem a Standard Schema validator found. */
export interface StandardSchemaIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
}

/** The output type of a Standard Schema. */
export type SchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : unknown

/**
 * Validates `value`.
 *
 * @param schema the validator
 * @param value the parsed body
 * @returns the validated value, or the failing fields
 */
export async function validate<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
): Promise<{ ok: true; value: SchemaOutput<S> } | { ok: false; issues: FieldIssue[] }> {
  const standard = schema?.['~standard']
  if (typeof standard?.validate !== 'function') {
    throw new TypeError('schema must be a Standard Schema validator (zod >= 3.24, valibot, ...)')
  }
  let result = standard.validate(value)
  if (result instanceof Promise) result = await result
  if (result.issues === undefined) return { ok: true, value: result.value as SchemaOutput<S> }
  return { ok: false, issues: result.issues.map(toFieldIssue) }
}

function toFieldIssue(issue: StandardSchemaIssue): FieldIssue {
  const path = (issue.path ?? [])
    .map((p) => String(typeof p === 'object' && p !== null ? p.key : p))
    .join('.')
  return { path, message: issue.message }
}
