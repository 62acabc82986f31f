import { useId } from 'react'
import type { Campaign } from '../api'
import { humanize } from './format'
import { type FieldValue, fieldValue, paramsIn } from './jobForm'
import type { KindSpec, ParamSpec } from './researchApi'
import { FieldErrors } from './widgets'

/** The hint under a field: what blank means, and the CLI default where the suggestion differs from it. */
function hint(spec: ParamSpec): string {
  const parts: string[] = []
  if (spec.nullable && spec.type !== 'boolean') parts.push('blank = none')
  const d = fieldValue(spec, spec.default)
  if (d !== fieldValue(spec, spec.suggested)) parts.push(`CLI default ${d === '' ? 'none' : String(d)}`)
  return parts.join(' · ')
}

/** One param of a job kind as a typed field: checkbox, select (choices, campaigns by name) or text. */
export function ParamField({
  spec,
  value,
  onChange,
  errors,
  campaigns,
  disabled = false,
}: {
  spec: ParamSpec
  value: FieldValue
  onChange: (v: FieldValue) => void
  errors?: string[]
  campaigns: Campaign[]
  disabled?: boolean
}) {
  const id = useId()
  const helpId = `${id}-help`
  const common = { id, disabled, 'aria-describedby': helpId, 'aria-invalid': !!errors?.length }
  const label = (
    <>
      {humanize(spec.name)} <code className="muted small">{spec.name}</code>
    </>
  )
  const help = (
    <span id={helpId} className="muted small field-help">
      {spec.help}
      {hint(spec) && ` (${hint(spec)})`}
    </span>
  )
  if (spec.type === 'boolean') {
    return (
      <div className="field param-field">
        <label className="check-row" htmlFor={id}>
          <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.target.checked)} />
          <span>{label}</span>
        </label>
        {help}
        <FieldErrors errors={errors} />
      </div>
    )
  }
  let control
  if (spec.type === 'choice' || spec.type === 'campaign') {
    const options =
      spec.type === 'choice' ? (spec.choices ?? []).map((c) => ({ value: String(c), label: String(c) })) : campaigns.map((c) => ({ value: String(c.id), label: c.name }))
    control = (
      <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        {(spec.nullable || value === '') && <option value="">{spec.nullable ? 'none' : 'choose…'}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    )
  } else {
    const numeric = spec.type === 'integer' || spec.type === 'number'
    control = (
      <input
        {...common}
        type="text"
        inputMode={spec.type === 'integer' ? 'numeric' : numeric ? 'decimal' : undefined}
        spellCheck={false}
        className={numeric ? 'num-input' : undefined}
        value={String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    )
  }
  return (
    <div className="field param-field">
      <label htmlFor={id}>{label}</label>
      {control}
      {help}
      <FieldErrors errors={errors} />
    </div>
  )
}

const FOLDED: { group: 'advanced' | 'runner'; title: string }[] = [
  { group: 'advanced', title: 'Advanced' },
  { group: 'runner', title: 'Job runner options' },
]

/**
 * A kind's params: the basic ones in view, "Advanced" and the runner's options folded away (opened by
 * themselves when one of their fields has an error). `exclude` hides params something else sets.
 */
export function ParamFields({
  spec,
  values,
  onChange,
  errors,
  campaigns,
  disabled = false,
  exclude = [],
  errorPrefix = 'params.',
}: {
  spec: KindSpec
  values: Record<string, FieldValue>
  onChange: (name: string, v: FieldValue) => void
  errors: Record<string, string[]>
  campaigns: Campaign[]
  disabled?: boolean
  exclude?: string[]
  errorPrefix?: string
}) {
  const shown = (group: 'basic' | 'advanced' | 'runner') => paramsIn(spec, group).filter((p) => !exclude.includes(p.name))
  const fields = (list: ParamSpec[]) => (
    <div className="param-grid">
      {list.map((p) => (
        <ParamField
          key={p.name}
          spec={p}
          value={values[p.name] ?? fieldValue(p, p.suggested)}
          onChange={(v) => onChange(p.name, v)}
          errors={errors[`${errorPrefix}${p.name}`]}
          campaigns={campaigns}
          disabled={disabled}
        />
      ))}
    </div>
  )
  return (
    <>
      {shown('basic').length > 0 && fields(shown('basic'))}
      {FOLDED.map(({ group, title }) => {
        const list = shown(group)
        if (!list.length) return null
        const hasError = list.some((p) => errors[`${errorPrefix}${p.name}`])
        return (
          <details key={group} className="param-group" open={hasError || undefined}>
            <summary>
              {title} <span className="muted small">({list.length})</span>
            </summary>
            {fields(list)}
          </details>
        )
      })}
    </>
  )
}
