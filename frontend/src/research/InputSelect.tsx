import { useId } from 'react'
import { inputOptions } from './jobForm'
import type { InputSpec, ModelVersion, Snapshot } from './researchApi'
import { FieldErrors } from './widgets'

/** One named input of a job: the snapshots or models of the kinds it accepts, by name (never a path). */
export function InputSelect({
  input,
  snapshots,
  models,
  value,
  onChange,
  errors,
}: {
  input: InputSpec
  snapshots: Snapshot[]
  models: ModelVersion[]
  value: string
  onChange: (v: string) => void
  errors?: string[]
}) {
  const id = useId()
  const options = inputOptions(input, snapshots, models)
  const kinds = input.kinds.join(' or ')
  return (
    <div className="field">
      <label htmlFor={id}>
        {input.label}{' '}
        {input.required ? (
          <span className="required">(required)</span>
        ) : (
          <span className="muted small">(optional)</span>
        )}
      </label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-required={input.required} aria-describedby={`${id}-help`} aria-invalid={!!errors?.length}>
        <option value="">{options.length ? (input.required ? 'choose…' : 'none') : `no ${kinds} ${input.type} yet`}</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.label}
          </option>
        ))}
      </select>
      <span id={`${id}-help`} className="muted small field-help">
        {/* Not input.help: that is the CLI's text about files and folders; here one picks by name. */}
        Any {kinds} {input.type} from the registry.
      </span>
      <FieldErrors errors={errors} />
    </div>
  )
}
