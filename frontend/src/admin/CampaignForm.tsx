import { useState } from 'react'
import type { Campaign, CampaignInput, TaskKind } from '../api'
import { SafeMarkdown } from '../components/SafeMarkdown'

export const DEFAULTS: CampaignInput = {
  name: '',
  guidelines: '',
  task_kinds: ['ranking'],
  completions_per_prompt: 4,
  labels_per_task: 1,
  lease_seconds: 1800,
  priority: 0,
  gold_fraction: 0,
}

function FieldErrors({ errors }: { errors?: string[] }) {
  if (!errors?.length) return null
  return (
    <span className="error small" role="alert">
      {errors.join(' ')}
    </span>
  )
}

/** The campaign settings form with a live Markdown preview of the guidelines. */
export function CampaignForm({
  initial,
  busy,
  errors,
  onSubmit,
}: {
  initial: Campaign | null
  busy: boolean
  errors: Record<string, string[]>
  onSubmit: (c: CampaignInput) => void
}) {
  const [v, setV] = useState<CampaignInput>(() => (initial ? { ...DEFAULTS, ...pick(initial) } : DEFAULTS))
  const set = <K extends keyof CampaignInput>(k: K, value: CampaignInput[K]) => setV((x) => ({ ...x, [k]: value }))
  const toggleKind = (k: TaskKind, on: boolean) =>
    set('task_kinds', on ? [...v.task_kinds.filter((x) => x !== k), k] : v.task_kinds.filter((x) => x !== k))
  const leaseMinutes = v.lease_seconds / 60

  return (
    <form
      className="campaign-form"
      onSubmit={(e) => {
        e.preventDefault()
        onSubmit(v)
      }}
    >
      <div className="form-grid">
        <label className="field span-2">
          <span>Name</span>
          <input name="name" value={v.name} onChange={(e) => set('name', e.target.value)} required maxLength={200} />
          <FieldErrors errors={errors.name} />
        </label>
        <fieldset className="field span-2">
          <legend>Task kinds</legend>
          <label className="check-row inline">
            <input type="checkbox" checked={v.task_kinds.includes('demonstration')} onChange={(e) => toggleKind('demonstration', e.target.checked)} />
            Demonstrations (write the ideal answer)
          </label>
          <label className="check-row inline">
            <input type="checkbox" checked={v.task_kinds.includes('ranking')} onChange={(e) => toggleKind('ranking', e.target.checked)} />
            Rankings (rate and rank K outputs)
          </label>
          <FieldErrors errors={errors.task_kinds} />
        </fieldset>
        <label className="field">
          <span>Outputs per prompt (K, 2–9)</span>
          <input type="number" min={2} max={9} value={v.completions_per_prompt} onChange={(e) => set('completions_per_prompt', Number(e.target.value))} />
          <FieldErrors errors={errors.completions_per_prompt} />
        </label>
        <label className="field">
          <span>Labels per task (overlap)</span>
          <input type="number" min={1} max={20} value={v.labels_per_task} onChange={(e) => set('labels_per_task', Number(e.target.value))} />
          <FieldErrors errors={errors.labels_per_task} />
        </label>
        <label className="field">
          <span>Lease length (minutes)</span>
          <input
            type="number"
            min={0.5}
            step={0.5}
            value={leaseMinutes}
            onChange={(e) => set('lease_seconds', Math.round(Number(e.target.value) * 60))}
          />
          <FieldErrors errors={errors.lease_seconds} />
        </label>
        <label className="field">
          <span>Priority (higher is served first)</span>
          <input type="number" step={1} value={v.priority} onChange={(e) => set('priority', Number(e.target.value))} />
          <FieldErrors errors={errors.priority} />
        </label>
        <label className="field">
          <span>Gold fraction (0–1)</span>
          <input type="number" min={0} max={1} step={0.05} value={v.gold_fraction} onChange={(e) => set('gold_fraction', Number(e.target.value))} />
          <FieldErrors errors={errors.gold_fraction} />
        </label>
      </div>
      <div className="guidelines-editor">
        <label className="field">
          <span>Guidelines (Markdown)</span>
          <textarea name="guidelines" rows={10} value={v.guidelines} onChange={(e) => set('guidelines', e.target.value)} />
          <FieldErrors errors={errors.guidelines} />
        </label>
        <section className="preview" aria-labelledby="preview-title" aria-live="off">
          <h2 id="preview-title" className="field-label">
            Preview (what labelers see)
          </h2>
          <div className="preview-body">{v.guidelines.trim() ? <SafeMarkdown source={v.guidelines} /> : <p className="muted">Nothing yet.</p>}</div>
        </section>
      </div>
      <div className="row-end">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : initial ? 'Save changes' : 'Create campaign'}
        </button>
      </div>
    </form>
  )
}

function pick(c: Campaign): CampaignInput {
  return {
    name: c.name,
    guidelines: c.guidelines,
    task_kinds: c.task_kinds,
    completions_per_prompt: c.completions_per_prompt,
    labels_per_task: c.labels_per_task,
    lease_seconds: c.lease_seconds,
    priority: c.priority,
    gold_fraction: c.gold_fraction,
  }
}
