import { ApiError } from '../api'

export interface FormErrors {
  /** Messages per field the form shows next to that field. */
  fields: Record<string, string[]>
  /** Everything else, for one alert above the form (null when all went to fields). */
  general: string | null
}

/**
 * Split a failed POST into the field errors a form can place (`shown` keys) and one general message
 * (the API's `detail`, other fields as "field: message", or the error's own text).
 */
export function formErrors(e: unknown, shown: readonly string[]): FormErrors {
  if (!(e instanceof ApiError)) return { fields: {}, general: e instanceof Error ? e.message : String(e) }
  const all = e.fieldErrors
  const fields: Record<string, string[]> = {}
  const rest: string[] = []
  for (const [k, v] of Object.entries(all)) {
    if (shown.includes(k)) fields[k] = v
    else rest.push(`${k}: ${v.join(' ')}`)
  }
  const detail = e.body?.detail
  if (typeof detail === 'string' && detail) rest.unshift(detail)
  else if (Array.isArray(detail) && detail.length) rest.unshift(detail.map(String).join(' '))
  if (!rest.length && !Object.keys(fields).length) rest.push(e.message)
  return { fields, general: rest.length ? rest.join(' ') : null }
}
