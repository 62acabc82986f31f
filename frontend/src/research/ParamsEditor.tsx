import { COMMON_PARAMS, paramValue, parseParams, setParam } from './jobForm'
import { FieldErrors } from './widgets'

/** The job's params: inputs for the common fields, bound to a JSON editor holding all of them. */
export function ParamsEditor({ text, onChange, errors }: { text: string; onChange: (t: string) => void; errors?: string[] }) {
  const parsed = parseParams(text)
  return (
    <fieldset className="field params-editor">
      <legend>Training parameters</legend>
      <div className="form-row">
        {COMMON_PARAMS.map((p) => (
          <label key={p.key} className="field">
            <span>
              {p.label} <code className="muted small">{p.key}</code>
            </span>
            <input
              type="number"
              step={p.step}
              min={p.min}
              value={paramValue(text, p.key)}
              disabled={!parsed.ok}
              onChange={(e) => {
                const next = setParam(text, p.key, e.target.value)
                if (next !== null) onChange(next)
              }}
            />
          </label>
        ))}
      </div>
      <label className="field">
        <span>
          Params JSON <span className="muted small">(the training command's config fields; unknown fields fail the job with the CLI's message)</span>
        </span>
        <textarea className="json-editor" rows={6} value={text} onChange={(e) => onChange(e.target.value)} spellCheck={false} aria-invalid={!parsed.ok} />
        {!parsed.ok && (
          <span className="error small" role="alert">
            {parsed.error} (the fields above are disabled until it parses)
          </span>
        )}
        <FieldErrors errors={errors} />
      </label>
    </fieldset>
  )
}
