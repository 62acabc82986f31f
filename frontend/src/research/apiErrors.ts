import { ApiError } from '../api'

export interface FormErrors {
  /** Messages per field the form shows next to that field. */
  fields: Record<string, string[]>
  /** Everything else, for one alert above the form (null when all went to fields). */
  general: string | null
}

/**
 * DRF's error body flattened to dotted keys: `{"inputs": {"model": ["unknown model"]}, "params":
 * {"max_steps": ["must be ≥ 1"]}, "name": ["taken"]}` → `{"inputs.model": [...], "params.max_steps": [...],
 * "name": [...]}`. A list of objects (one per item) gets the item's index: `stages.2.error`.
 */
export function flattenErrors(body: unknown, prefix = ''): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  const key = (k: string) => (prefix ? `${prefix}.${k}` : k)
  if (typeof body === 'string') out[prefix] = [body]
  else if (Array.isArray(body)) {
    const texts = body.filter((x): x is string => typeof x === 'string')
    if (texts.length) out[prefix] = texts
    body.forEach((x, i) => {
      if (x && typeof x === 'object') Object.assign(out, flattenErrors(x, key(String(i))))
    })
  } else if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) Object.assign(out, flattenErrors(v, key(k)))
  }
  return out
}

/**
 * Split a failed POST into the field errors a form can place (`shown` keys) and one general message
 * (the API's `detail`, other fields as "field: message", or the error's own text). A message that names
 * its item ("max_steps: must be ≥ 1" under `params`, "sft.max_steps: …" too) goes to `params.max_steps`
 * when the form shows that key.
 */
export function formErrors(e: unknown, shown: readonly string[]): FormErrors {
  if (!(e instanceof ApiError)) return { fields: {}, general: e instanceof Error ? e.message : String(e) }
  const { detail, ...rest } = e.body ?? {}
  const all = flattenErrors(e.body && typeof e.body.errors === 'object' && !Array.isArray(e.body.errors) ? e.body.errors : rest)
  const fields: Record<string, string[]> = {}
  const other: string[] = []
  const place = (k: string, m: string) => (fields[k] ??= []).push(m)
  for (const [k, v] of Object.entries(all)) {
    for (const m of v) {
      // "max_steps: must be ≥ 1" under "params" belongs next to the params.max_steps field, when the form has it.
      const named = /^([\w.]+): (.+)$/s.exec(m)
      if (named && shown.includes(`${k}.${named[1]}`)) place(`${k}.${named[1]}`, named[2])
      else if (shown.includes(k)) place(k, m)
      else other.push(`${k}: ${m}`)
    }
  }
  if (typeof detail === 'string' && detail) other.unshift(detail)
  else if (Array.isArray(detail) && detail.length) other.unshift(detail.map(String).join(' '))
  if (!other.length && !Object.keys(fields).length) other.push(e.message)
  return { fields, general: other.length ? other.join(' ') : null }
}
