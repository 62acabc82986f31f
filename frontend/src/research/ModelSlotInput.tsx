import type { ModelSlot } from './jobForm'
import type { ModelVersion } from './researchApi'

/** One model input of a job: a select (one model) or checkboxes (several), offering only the allowed kinds. */
export function ModelSlotInput({
  slot,
  models,
  value,
  onChange,
}: {
  slot: ModelSlot
  models: ModelVersion[]
  value: number[]
  onChange: (ids: number[]) => void
}) {
  const options = models.filter((m) => slot.kinds.includes(m.kind))
  const kinds = slot.kinds.join(', ')
  if (!slot.multiple) {
    return (
      <label className="field">
        <span>
          {slot.label} <span className="muted small">({kinds})</span>
        </span>
        <select value={value[0] ?? ''} onChange={(e) => onChange(e.target.value ? [Number(e.target.value)] : [])}>
          <option value="">{options.length ? 'choose…' : `no ${kinds} model registered`}</option>
          {options.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} ({m.kind})
            </option>
          ))}
        </select>
      </label>
    )
  }
  return (
    <fieldset className="field">
      <legend>
        {slot.label} <span className="muted small">({kinds})</span>
      </legend>
      <div className="check-list">
        {options.length === 0 && <span className="muted small">No {kinds} model registered.</span>}
        {options.map((m) => (
          <label key={m.id} className="check-row">
            <input
              type="checkbox"
              checked={value.includes(m.id)}
              onChange={(e) => onChange(e.target.checked ? [...value, m.id] : value.filter((x) => x !== m.id))}
            />
            <span>{m.name}</span>
            <span className="badge">{m.kind}</span>
          </label>
        ))}
      </div>
    </fieldset>
  )
}
