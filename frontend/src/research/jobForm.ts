/**
 * The "New job" form as pure logic, built entirely from a job kind's definition (`GET /job-kinds`): one
 * select per input, one typed field per param prefilled with its `suggested` value, and the request body
 * (`{kind, inputs, params}`) with early, friendly errors keyed like the API's flattened errors
 * (`inputs.<name>`, `params.<name>`, see apiErrors.ts). The server and the training CLI stay the judges:
 * this only catches what is obviously missing or mistyped.
 */
import type { InputSpec, JobInput, KindSpec, ModelVersion, ParamGroup, ParamSpec, Snapshot } from './researchApi'

/** What a field holds while edited: the text of an input or select, or a checkbox's state. */
export type FieldValue = string | boolean

export interface JobFormState {
  kind: KindSpec['kind']
  /** Chosen id per input name, as the select's value ('' = none). */
  inputs: Record<string, string>
  /** Raw field values per param name. */
  params: Record<string, FieldValue>
}

export type Errors = Record<string, string[]>

/** A param value as its field shows it: true/false for a checkbox, text for everything else ('' = null). */
export function fieldValue(spec: ParamSpec, v: unknown): FieldValue {
  if (spec.type === 'boolean') return v === true
  if (v === null || v === undefined) return ''
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

/** A fresh form for `spec`: no inputs chosen, every param at its suggested value. */
export function initialState(spec: KindSpec): JobFormState {
  return { kind: spec.kind, inputs: {}, params: Object.fromEntries(spec.params.map((p) => [p.name, fieldValue(p, p.suggested)])) }
}

/** The params of one group ("basic" shown, "advanced" and "runner" folded away), in the server's order. */
export function paramsIn(spec: KindSpec, group: ParamGroup): ParamSpec[] {
  return spec.params.filter((p) => p.group === group)
}

export type ParamParse = { ok: true; value: unknown; omit: boolean } | { ok: false; error: string }

const INTEGER = /^[+-]?\d+$/

/**
 * One field's raw value as the JSON the API expects. Blank means null for a nullable param with a
 * non-null default, and "leave it out" (the default applies) otherwise; numbers must parse, integers must be whole, a choice must be
 * one of the listed ones (matched by its text, so numeric choices stay numbers).
 */
export function parseParam(spec: ParamSpec, raw: FieldValue): ParamParse {
  if (spec.type === 'boolean') return { ok: true, value: raw === true, omit: false }
  const t = String(raw).trim()
  // Blank: null overrides a non-null default; otherwise leaving it out is the same and keeps params short.
  if (!t) return spec.nullable && spec.default !== null ? { ok: true, value: null, omit: false } : { ok: true, value: undefined, omit: true }
  switch (spec.type) {
    case 'integer':
    case 'campaign':
      return INTEGER.test(t) ? { ok: true, value: Number(t), omit: false } : { ok: false, error: 'must be a whole number' }
    case 'number': {
      const n = Number(t)
      return Number.isFinite(n) ? { ok: true, value: n, omit: false } : { ok: false, error: 'must be a number, e.g. 0.1 or 2e-5' }
    }
    case 'choice': {
      const hit = (spec.choices ?? []).find((c) => String(c) === t)
      return hit !== undefined ? { ok: true, value: hit, omit: false } : { ok: false, error: `must be one of ${(spec.choices ?? []).map(String).join(', ')}` }
    }
    default:
      return { ok: true, value: String(raw), omit: false }
  }
}

/** The params object from the fields (plus any keys only the JSON view knows), and per-field errors. */
export function buildParams(specs: ParamSpec[], values: Record<string, FieldValue>): { params: Record<string, unknown>; errors: Errors } {
  const params: Record<string, unknown> = {}
  const errors: Errors = {}
  for (const spec of specs) {
    const r = parseParam(spec, values[spec.name] ?? fieldValue(spec, spec.suggested))
    if (!r.ok) errors[`params.${spec.name}`] = [r.error]
    else if (!r.omit) params[spec.name] = r.value
  }
  return { params, errors }
}

export interface InputOption {
  id: number
  label: string
}

/** The snapshots or models `input` accepts, by name (never a path): "name (kind, 120 rows)" / "name (kind)". */
export function inputOptions(input: InputSpec, snapshots: Snapshot[], models: ModelVersion[]): InputOption[] {
  if (input.type === 'snapshot') {
    return snapshots.filter((s) => input.kinds.includes(s.kind)).map((s) => ({ id: s.id, label: `${s.name} (${s.kind}, ${s.rows} rows)` }))
  }
  return models.filter((m) => input.kinds.includes(m.kind)).map((m) => ({ id: m.id, label: `${m.name} (${m.kind})` }))
}

export type ParamsParse = { ok: true; value: Record<string, unknown> } | { ok: false; error: string }

/** The raw JSON view's text as a params object: blank = {}, anything but a JSON object is an error. */
export function parseParamsJson(text: string): ParamsParse {
  if (!text.trim()) return { ok: true, value: {} }
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    return { ok: false, error: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'must be a JSON object, e.g. {"max_steps": 20}' }
  return { ok: true, value: v as Record<string, unknown> }
}

/**
 * Field values from a params object (the JSON view switching back to the form). Keys the kind does not
 * have are returned apart, so the caller can say so instead of dropping them silently.
 */
export function fieldsFromParams(spec: KindSpec, obj: Record<string, unknown>): { values: Record<string, FieldValue>; unknown: string[] } {
  const byName = new Map(spec.params.map((p) => [p.name, p]))
  const values: Record<string, FieldValue> = {}
  // A key left out runs with the CLI default, so the field shows that default.
  for (const p of spec.params) values[p.name] = fieldValue(p, p.name in obj ? obj[p.name] : p.default)
  return { values, unknown: Object.keys(obj).filter((k) => !byName.has(k)) }
}

export type JobBuild = { ok: true; body: JobInput } | { ok: false; errors: Errors }

/**
 * The POST /jobs (and /jobs/estimate) body. `json` (the raw JSON view's text, when it is open) replaces
 * the fields as the params. Missing required inputs and unparseable params are errors.
 */
export function buildJobBody(spec: KindSpec, s: JobFormState, json?: string): JobBuild {
  const errors: Errors = {}
  const inputs: Record<string, number> = {}
  for (const input of spec.inputs) {
    const v = s.inputs[input.name] ?? ''
    if (v) inputs[input.name] = Number(v)
    else if (input.required) errors[`inputs.${input.name}`] = [`Pick a ${input.kinds.join(' or ')} ${input.type}.`]
  }
  let params: Record<string, unknown>
  if (json !== undefined) {
    const parsed = parseParamsJson(json)
    if (!parsed.ok) errors.params = [parsed.error]
    params = parsed.ok ? parsed.value : {}
  } else {
    const built = buildParams(spec.params, s.params)
    Object.assign(errors, built.errors)
    params = built.params
  }
  if (Object.keys(errors).length) return { ok: false, errors }
  return { ok: true, body: { kind: spec.kind, inputs, params } }
}

/** Every error key a job form can place next to a field (the rest go into one alert). */
export function formFields(spec: KindSpec): string[] {
  return ['kind', 'inputs', 'params', ...spec.inputs.map((i) => `inputs.${i.name}`), ...spec.params.map((p) => `params.${p.name}`)]
}

/**
 * A random RFC 4122 version-4 id for the Idempotency-Key header. `crypto.randomUUID` exists only in
 * secure contexts (https, localhost); `getRandomValues` exists everywhere, so it is built from that.
 */
export function uuid4(random: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  const b = random(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export interface KeyedBody {
  body: string
  key: string
}

/**
 * The Idempotency-Key for submitting `body`: the previous attempt's key while the body is unchanged (a
 * retry after a network error or a 5xx then returns the job the first attempt made), a fresh one once it
 * changed (a different job).
 */
export function keyForAttempt(previous: KeyedBody | null, body: unknown, fresh: () => string = uuid4): KeyedBody {
  const text = JSON.stringify(body)
  return previous?.body === text ? previous : { body: text, key: fresh() }
}
