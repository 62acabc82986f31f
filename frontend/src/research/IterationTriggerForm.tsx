import { useEffect, useId, useState } from 'react'
import type { Campaign } from '../api'
import { errorText } from './hooks'
import { buildTriggerBody, triggerState, type TriggerFormState } from './iterationForm'
import { type ModelVersion, researchApi } from './researchApi'
import { useApiForm } from './useApiForm'
import { ErrorAlert, FieldErrors } from './widgets'

const FIELDS = ['every_rankings', 'method', 'base_model', 'skip_sft'] as const
const OFF: TriggerFormState = { everyRankings: '', method: 'ppo', base: '', skipSft: false }

/**
 * A campaign's automatic iteration: after N new rankings the beat sweep starts the next round (from the
 * last round's policy, else the chosen base model, else the campaign's sampling policy). Blank N = off.
 */
export function IterationTriggerForm({ campaigns, models }: { campaigns: Campaign[]; models: ModelVersion[] }) {
  const [campaign, setCampaign] = useState('')
  const [s, setS] = useState<TriggerFormState>(OFF)
  const [loadError, setLoadError] = useState<string | null>(null)
  // The fields wait for the campaign's current trigger (typing before it arrives would be overwritten):
  // `loadedFor` is derived in the same render as the campaign change, so there is no gap to type into.
  const [loadedFor, setLoadedFor] = useState('')
  const loading = loadedFor !== campaign
  const [saved, setSaved] = useState<string | null>(null)
  const { busy, errors, general, setErrors, run } = useApiForm(FIELDS)
  const bases = models.filter((m) => m.kind !== 'reward')
  const id = useId()

  useEffect(() => {
    setSaved(null)
    setLoadError(null)
    if (!campaign) return setS(OFF)
    let current = true
    researchApi
      .iterationTrigger(Number(campaign))
      .then(
        (t) => current && setS(triggerState(t)),
        (e: unknown) => current && setLoadError(errorText(e)),
      )
      .finally(() => current && setLoadedFor(campaign))
    return () => {
      current = false
    }
  }, [campaign])

  async function submit() {
    const built = buildTriggerBody(s)
    if (!built.ok) return setErrors(built.errors)
    await run(async () => {
      const t = await researchApi.setIterationTrigger(Number(campaign), built.body)
      const name = campaigns.find((c) => String(c.id) === campaign)?.name ?? 'the campaign'
      setSaved(t.every_rankings === null ? `No automatic iterations for ${name}.` : `${name}: a new iteration after every ${t.every_rankings} new rankings.`)
    })
  }

  return (
    <form
      className="panel trigger-form"
      aria-labelledby="trigger-title"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <h2 id="trigger-title">Automatic iterations</h2>
      <p className="muted small">Start the next round by itself once enough new rankings have arrived (never while one runs).</p>
      <ErrorAlert error={general ?? loadError} />
      {saved && (
        <p className="success" role="status">
          {saved}
        </p>
      )}
      <div className="param-grid">
        <div className="field">
          <label htmlFor={`${id}-1`}>Campaign</label>
          <select id={`${id}-1`} value={campaign} onChange={(e) => setCampaign(e.target.value)}>
            <option value="">choose…</option>
            {campaigns.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-2`}>After this many new rankings</label>
          <input id={`${id}-2`} type="text" inputMode="numeric" value={s.everyRankings} disabled={!campaign || loading} placeholder="blank = off" onChange={(e) => setS({ ...s, everyRankings: e.target.value })} />
          <FieldErrors errors={errors.every_rankings} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-3`}>Method</label>
          <select id={`${id}-3`} value={s.method} disabled={!campaign || loading} onChange={(e) => setS({ ...s, method: e.target.value === 'dpo' ? 'dpo' : 'ppo' })}>
            <option value="ppo">PPO-ptx</option>
            <option value="dpo">DPO</option>
          </select>
          <FieldErrors errors={errors.method} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-4`}>First round starts from</label>
          <select id={`${id}-4`} value={s.base} disabled={!campaign || loading} onChange={(e) => setS({ ...s, base: e.target.value })}>
            <option value="">the campaign's sampling policy</option>
            {bases.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({m.kind})
              </option>
            ))}
          </select>
          <FieldErrors errors={errors.base_model} />
        </div>
        <div className="field">
          <label className="check-row">
            <input type="checkbox" checked={s.skipSft} disabled={!campaign || loading} onChange={(e) => setS({ ...s, skipSft: e.target.checked })} />
            <span>Build on the last policy without training SFT again</span>
          </label>
          <span className="muted small field-help">A round that starts from a fine-tuned model (the last round's policy, an sft model) uses it as its SFT model.</span>
          <FieldErrors errors={errors.skip_sft} />
        </div>
      </div>
      <div className="row-end">
        <button type="submit" className="button secondary" disabled={busy || loading || !campaign}>
          {busy ? 'Saving…' : 'Save trigger'}
        </button>
      </div>
    </form>
  )
}
