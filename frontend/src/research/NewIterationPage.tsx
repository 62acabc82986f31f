import { useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { api } from '../api'
import { CampaignChecklist } from './CampaignChecklist'
import { useResource } from './hooks'
import { buildIterationBody, canStandInForSft, initialIterationState, iterationFields, type IterationFormState, stageParams, trainingStages } from './iterationForm'
import type { FieldValue } from './jobForm'
import { ParamFields } from './ParamFields'
import { type KindSpec, type Method, researchApi } from './researchApi'
import { useApiForm } from './useApiForm'
import { ErrorAlert, FieldErrors, JobKindsPage } from './widgets'

const METHODS: { value: Method; label: string; help: string }[] = [
  { value: 'ppo', label: 'PPO-ptx', help: 'InstructGPT: PPO against the new reward model, with the pretraining-mix term.' },
  { value: 'dpo', label: 'DPO', help: 'Direct preference optimisation on the same rankings: cheaper, no reward model in the loop.' },
]

/** "New iteration": one InstructGPT round (export → SFT → reward → PPO/DPO → generate → evaluate) in one action. */
export function NewIterationPage() {
  return <JobKindsPage title="New iteration">{(kinds) => <IterationForm kinds={kinds} />}</JobKindsPage>
}

function IterationForm({ kinds }: { kinds: KindSpec[] }) {
  const navigate = useNavigate()
  const campaigns = useResource(() => api.campaigns(), [])
  const models = useResource(() => researchApi.models(), [])
  const [s, setS] = useState<IterationFormState>(() => initialIterationState(kinds))
  const { busy, errors, general, setErrors, run } = useApiForm(iterationFields(kinds))
  // The policies a round may start from: whatever an SFT job accepts as its model.
  const baseKinds = kinds.find((k) => k.kind === 'sft')?.inputs.find((i) => i.name === 'model')?.kinds ?? ['base', 'sft', 'policy']
  const bases = (models.data ?? []).filter((m) => baseKinds.includes(m.kind))
  const canSkipSft = canStandInForSft(bases.find((m) => String(m.id) === s.base)?.kind)
  const set = <K extends keyof IterationFormState>(key: K, v: IterationFormState[K]) => setS((x) => ({ ...x, [key]: v }))
  const setParam = (kind: string) => (name: string, v: FieldValue) => setS((x) => ({ ...x, stages: { ...x.stages, [kind]: { ...x.stages[kind], [name]: v } } }))

  async function submit() {
    const built = buildIterationBody(kinds, { ...s, skipSft: s.skipSft && canSkipSft })
    if (!built.ok) {
      setErrors(built.errors)
      return
    }
    await run(async () => {
      const it = await researchApi.createIteration(built.body)
      navigate(`/research/iterations/${it.id}`)
    })
  }

  return (
    <form
      className="panel job-form"
      aria-label="New iteration"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <ErrorAlert error={general ?? campaigns.error ?? models.error} />
      <div className="param-grid">
        <label className="field">
          <span>Name (optional)</span>
          <input value={s.name} onChange={(e) => set('name', e.target.value)} maxLength={200} placeholder="e.g. round-3" />
          <FieldErrors errors={errors.name} />
        </label>
        <label className="field">
          <span>
            Base model <span className="required">(required)</span>
          </span>
          <select value={s.base} onChange={(e) => set('base', e.target.value)} aria-required aria-describedby="base-help">
            <option value="">{bases.length ? 'choose…' : `no ${baseKinds.join(' or ')} model yet`}</option>
            {bases.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({m.kind})
              </option>
            ))}
          </select>
          <span id="base-help" className="muted small field-help">
            The policy this round starts from (the new policy is compared against it).
          </span>
          <FieldErrors errors={errors.base_model} />
        </label>
        <div className="field">
          <label className="check-row">
            <input type="checkbox" checked={s.skipSft && canSkipSft} disabled={!canSkipSft} onChange={(e) => set('skipSft', e.target.checked)} aria-describedby="skip-sft-help" />
            <span>Skip SFT: use the base model as this round's SFT model</span>
          </label>
          <span id="skip-sft-help" className="muted small field-help">
            For a base model that is already fine-tuned (an sft or policy model): the reward model, {s.method === 'dpo' ? 'DPO' : 'PPO'} and the evaluation start from it and no SFT job is trained.
          </span>
          <FieldErrors errors={errors.skip_sft} />
        </div>
      </div>
      <CampaignChecklist
        legend="Learn from campaigns (demonstrations, rankings, prompts)"
        campaigns={campaigns.data ?? []}
        picked={s.sources}
        onChange={(ids) => set('sources', ids)}
        errors={errors.source_campaign_ids}
      />
      <div className="param-grid">
        <label className="field">
          <span>Send new ranking tasks to</span>
          <select value={s.target} onChange={(e) => set('target', e.target.value)} aria-describedby="target-help">
            <option value="">the first campaign above (default)</option>
            {(campaigns.data ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          <span id="target-help" className="muted small field-help">
            The new policy's samples become ranking tasks in this campaign.
          </span>
          <FieldErrors errors={errors.target_campaign_id} />
        </label>
        <label className="field">
          <span>Valid fraction</span>
          <input type="text" inputMode="decimal" value={s.validFraction} onChange={(e) => set('validFraction', e.target.value)} />
          <FieldErrors errors={errors.valid_fraction} />
        </label>
      </div>
      <fieldset className="field">
        <legend>Method</legend>
        <div className="kind-picker">
          {METHODS.map((m) => (
            <label key={m.value} className={`kind-option${m.value === s.method ? ' selected' : ''}`}>
              <input type="radio" name="method" value={m.value} checked={m.value === s.method} onChange={() => set('method', m.value)} />
              <span>{m.label}</span>
            </label>
          ))}
        </div>
        <p className="muted small kind-help">{METHODS.find((m) => m.value === s.method)?.help}</p>
        <FieldErrors errors={errors.method} />
      </fieldset>
      <fieldset className="field params-editor">
        <legend>Stage parameters</legend>
        <p className="muted small">Suggested values finish in minutes on a CPU; only the values you change are sent.</p>
        <FieldErrors errors={errors.params} />
        {trainingStages(s.method, s.skipSft && canSkipSft).map((kind) => {
          const spec = kinds.find((k) => k.kind === kind)
          if (!spec || stageParams(spec).length === 0) return null
          const prefix = `params.${kind}.`
          const hasError = !!errors[`params.${kind}`] || stageParams(spec).some((p) => errors[prefix + p.name])
          return (
            <details key={kind} className="param-group stage-params" open={hasError || undefined}>
              <summary>{spec.title} parameters</summary>
              <FieldErrors errors={errors[`params.${kind}`]} />
              <ParamFields
                spec={spec}
                values={s.stages[kind] ?? {}}
                onChange={setParam(kind)}
                errors={errors}
                errorPrefix={prefix}
                campaigns={campaigns.data ?? []}
                exclude={spec.params.filter((p) => p.group === 'runner').map((p) => p.name)}
              />
            </details>
          )
        })}
      </fieldset>
      <div className="row-end">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start iteration'}
        </button>
      </div>
    </form>
  )
}
