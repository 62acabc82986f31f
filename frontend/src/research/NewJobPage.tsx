import { useState } from 'react'
import { useNavigate, useSearchParams } from 'react-router-dom'
import { useApiForm } from './useApiForm'
import { useRegistry } from './hooks'
import { buildJobBody, JOB_RULES, type JobFormState } from './jobForm'
import { ModelSlotInput } from './ModelSlotInput'
import { ParamsEditor } from './ParamsEditor'
import { JOB_KINDS, type JobKind, researchApi } from './researchApi'
import { ErrorAlert, FieldErrors, ResearchTabs } from './widgets'

const FIELDS = ['kind', 'params', 'input_snapshot_ids', 'input_model_ids'] as const

/** "New job": pick the kind, its input snapshot and model(s), and the params. */
export function NewJobPage() {
  const [search] = useSearchParams()
  const navigate = useNavigate()
  const registry = useRegistry()
  const initialKind = JOB_KINDS.find((k) => k === search.get('kind')) ?? 'sft'
  const [s, setS] = useState<JobFormState>({ kind: initialKind, snapshotId: null, models: {}, paramsText: '{\n  "max_steps": 200\n}' })
  const { busy, errors, general, setErrors, setGeneral, run } = useApiForm(FIELDS)
  const rule = JOB_RULES[s.kind]
  const snapshots = (registry.snapshots.data ?? []).filter((x) => rule.snapshotKinds.includes(x.kind))

  const setKind = (kind: JobKind) => setS((x) => ({ ...x, kind, snapshotId: null, models: {} }))

  async function submit() {
    setGeneral(null)
    const built = buildJobBody(s)
    if (!built.ok) {
      setErrors(built.errors)
      return
    }
    await run(async () => {
      const job = await researchApi.createJob(built.body)
      navigate(`/research/jobs/${job.id}`, { state: { flash: `Job #${job.id} queued.` } })
    })
  }

  return (
    <div className="research">
      <ResearchTabs title="New job" />
      <ErrorAlert error={registry.error} />
      <form
        className="panel job-form"
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
      >
        <ErrorAlert error={general} />
        <fieldset className="field">
          <legend>Kind</legend>
          <div className="kind-picker">
            {JOB_KINDS.map((k) => (
              <label key={k} className={`kind-option${k === s.kind ? ' selected' : ''}`}>
                <input type="radio" name="kind" value={k} checked={k === s.kind} onChange={() => setKind(k)} />
                <span>{JOB_RULES[k].title}</span>
              </label>
            ))}
          </div>
          <p className="muted small kind-help">{rule.help}</p>
          <FieldErrors errors={errors.kind} />
        </fieldset>
        <div className="form-row">
          <label className="field grow">
            <span>
              Input snapshot <span className="muted small">({rule.snapshotKinds.join(' or ')})</span>
            </span>
            <select value={s.snapshotId ?? ''} onChange={(e) => setS((x) => ({ ...x, snapshotId: e.target.value ? Number(e.target.value) : null }))}>
              <option value="">{snapshots.length ? 'choose…' : `no ${rule.snapshotKinds.join(' or ')} snapshot yet`}</option>
              {snapshots.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name} ({x.kind}, {x.rows} rows)
                </option>
              ))}
            </select>
            <FieldErrors errors={errors.input_snapshot_ids} />
          </label>
          {rule.models.map((slot) => (
            <div className="grow" key={`${s.kind}-${slot.key}`}>
              <ModelSlotInput
                slot={slot}
                models={registry.models.data ?? []}
                value={s.models[slot.key] ?? []}
                onChange={(ids) => setS((x) => ({ ...x, models: { ...x.models, [slot.key]: ids } }))}
              />
            </div>
          ))}
        </div>
        <FieldErrors errors={errors.input_model_ids} />
        <ParamsEditor text={s.paramsText} onChange={(t) => setS((x) => ({ ...x, paramsText: t }))} errors={errors.params} />
        <div className="row-end">
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Starting…' : `Start ${JOB_RULES[s.kind].title} job`}
          </button>
        </div>
      </form>
    </div>
  )
}
