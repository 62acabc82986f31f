import { useRef, useState } from 'react'
import { useNavigate, useSearchParams } from 'react-router-dom'
import { api, ApiError } from '../api'
import { EstimatePanel, useEstimate } from './Estimate'
import { useRegistry, useResource } from './hooks'
import { InputSelect } from './InputSelect'
import { buildJobBody, buildParams, type FieldValue, fieldsFromParams, formFields, initialState, type JobFormState, type KeyedBody, keyForAttempt, parseParamsJson } from './jobForm'
import { ParamFields } from './ParamFields'
import { type KindSpec, researchApi } from './researchApi'
import { useApiForm } from './useApiForm'
import { ErrorAlert, FieldErrors, JobKindsPage } from './widgets'

/** `keyForAttempt` across renders: one Idempotency-Key per submission attempt, reused on a retry. */
function useIdempotencyKey() {
  const ref = useRef<KeyedBody | null>(null)
  return (body: unknown) => (ref.current = keyForAttempt(ref.current, body)).key
}

/** "New job": the form is built from `GET /job-kinds` (inputs by name, typed params), with a live estimate. */
export function NewJobPage() {
  return <JobKindsPage title="New job">{(kinds) => <JobForm kinds={kinds} />}</JobKindsPage>
}

function JobForm({ kinds }: { kinds: KindSpec[] }) {
  const [search] = useSearchParams()
  const navigate = useNavigate()
  const registry = useRegistry()
  const campaigns = useResource(() => api.campaigns(), [])
  const first = kinds.find((k) => k.kind === search.get('kind')) ?? kinds[0]
  const [s, setS] = useState<JobFormState>(() => initialState(first))
  const [json, setJson] = useState<string | null>(null)
  const spec = kinds.find((k) => k.kind === s.kind) ?? first
  const { busy, errors, general, setErrors, setGeneral, run } = useApiForm(formFields(spec))
  const idempotencyKey = useIdempotencyKey()

  const built = buildJobBody(spec, s, json ?? undefined)
  const missing = spec.inputs.filter((i) => i.required && !s.inputs[i.name])
  const estimate = useEstimate(built.ok ? built.body : null)
  const waitingFor = missing.length ? `Pick ${missing.map((i) => i.label).join(', ')} to see an estimate.` : built.ok ? null : 'Fix the fields marked in red to see an estimate.'

  const setKind = (k: KindSpec) => {
    setS(initialState(k))
    setJson(null)
    setErrors({})
    setGeneral(null)
  }
  const setParam = (name: string, v: FieldValue) => setS((x) => ({ ...x, params: { ...x.params, [name]: v } }))

  function toggleJson() {
    if (json === null) {
      setJson(JSON.stringify(buildParams(spec.params, s.params).params, null, 2)) // fields that do not parse are left out
      return
    }
    const parsed = parseParamsJson(json)
    if (!parsed.ok) return // its error is already shown under the JSON
    const back = fieldsFromParams(spec, parsed.value)
    if (back.unknown.length) {
      setErrors({ params: [`${back.unknown.join(', ')}: not a ${spec.title} param; remove it to go back to the fields.`] })
      return
    }
    setS((x) => ({ ...x, params: back.values }))
    setJson(null)
    setErrors({})
  }

  async function submit() {
    setGeneral(null)
    if (!built.ok) {
      setErrors(built.errors)
      return
    }
    const body = built.body
    await run(async () => {
      try {
        const job = await researchApi.createJob(body, idempotencyKey(body))
        navigate(`/research/jobs/${job.id}`, { state: { flash: `Job #${job.id} queued.` } })
      } catch (e) {
        // 503 with a job id: the job is recorded and is sent to the workers once the broker is back.
        const jobId = e instanceof ApiError && e.status === 503 ? e.body?.job_id : undefined
        if (typeof jobId !== 'number') throw e
        navigate(`/research/jobs/${jobId}`, { state: { flash: `Job #${jobId} is recorded and queued: ${e instanceof Error ? e.message : ''}` } })
      }
    })
  }

  return (
    <div className="job-form-layout">
      <form
        className="panel job-form"
        aria-label="New job"
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
      >
        <ErrorAlert error={general ?? registry.error ?? campaigns.error} />
        <fieldset className="field">
          <legend>Kind</legend>
          <div className="kind-picker">
            {kinds.map((k) => (
              <label key={k.kind} className={`kind-option${k.kind === spec.kind ? ' selected' : ''}`}>
                <input type="radio" name="kind" value={k.kind} checked={k.kind === spec.kind} onChange={() => setKind(k)} />
                <span>{k.title}</span>
              </label>
            ))}
          </div>
          <p className="small kind-help">{spec.description}</p>
          {spec.notes && <p className="muted small kind-help">{spec.notes}</p>}
          <FieldErrors errors={errors.kind} />
        </fieldset>
        <fieldset className="field">
          <legend>Inputs</legend>
          <div className="param-grid">
            {spec.inputs.map((input) => (
              <InputSelect
                key={`${spec.kind}-${input.name}`}
                input={input}
                snapshots={registry.snapshots.data ?? []}
                models={registry.models.data ?? []}
                value={s.inputs[input.name] ?? ''}
                onChange={(v) => setS((x) => ({ ...x, inputs: { ...x.inputs, [input.name]: v } }))}
                errors={errors[`inputs.${input.name}`]}
              />
            ))}
          </div>
          <FieldErrors errors={errors.inputs} />
        </fieldset>
        <fieldset className="field params-editor">
          <legend>Parameters</legend>
          <p className="muted small">Prefilled with values that finish in minutes on a CPU.</p>
          <label className="check-row json-toggle">
            <input type="checkbox" checked={json !== null} onChange={toggleJson} />
            <span>Edit the params as JSON</span>
          </label>
          {json === null ? (
            <ParamFields spec={spec} values={s.params} onChange={setParam} errors={errors} campaigns={campaigns.data ?? []} />
          ) : (
            <label className="field">
              <span>Params JSON</span>
              <textarea className="json-editor" rows={10} value={json} onChange={(e) => setJson(e.target.value)} spellCheck={false} aria-invalid={!built.ok && 'params' in built.errors} />
            </label>
          )}
          <FieldErrors errors={errors.params ?? (!built.ok && json !== null ? built.errors.params : undefined)} />
        </fieldset>
        <div className="row-end">
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Starting…' : `Start ${spec.title} job`}
          </button>
        </div>
      </form>
      <EstimatePanel estimate={estimate} waitingFor={waitingFor} />
    </div>
  )
}
