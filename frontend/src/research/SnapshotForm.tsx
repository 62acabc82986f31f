import { useState } from 'react'
import type { Campaign } from '../api'
import { CampaignChecklist } from './CampaignChecklist'
import { researchApi, SNAPSHOT_KINDS, type Snapshot, type SnapshotKind } from './researchApi'
import { useApiForm } from './useApiForm'
import { ErrorAlert, FieldErrors } from './widgets'

const FIELDS = ['kind', 'campaign_ids', 'name', 'valid_fraction', 'seed'] as const
const KIND_HELP: Record<SnapshotKind, string> = {
  sft: 'Demonstrations as chat transcripts: for SFT.',
  comparisons: 'Rankings and ratings: for reward models and DPO.',
  prompts: 'Prompts only: for PPO, generate and win-rate evaluation.',
}

/** "Export snapshot": kind, campaigns, valid fraction, name; the API's errors shown inline. */
export function SnapshotForm({ campaigns, onCreated }: { campaigns: Campaign[]; onCreated: (s: Snapshot) => void }) {
  const [kind, setKind] = useState<SnapshotKind>('comparisons')
  const [picked, setPicked] = useState<number[]>([])
  const [validFraction, setValidFraction] = useState('0.1')
  const [name, setName] = useState('')
  const { busy, errors, general, run } = useApiForm(FIELDS)

  const submit = () =>
    run(async () => {
      const s = await researchApi.createSnapshot({
        kind,
        campaign_ids: picked,
        valid_fraction: Number(validFraction),
        ...(name.trim() ? { name: name.trim() } : {}),
      })
      setName('')
      onCreated(s)
    })

  return (
    <form
      className="panel snapshot-form"
      aria-labelledby="export-title"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <h2 id="export-title">Export snapshot</h2>
      <ErrorAlert error={general} />
      <label className="field">
        <span>Kind</span>
        <select value={kind} onChange={(e) => setKind(e.target.value as SnapshotKind)}>
          {SNAPSHOT_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <span className="muted small">{KIND_HELP[kind]}</span>
        <FieldErrors errors={errors.kind} />
      </label>
      <CampaignChecklist legend="Campaigns" campaigns={campaigns} picked={picked} onChange={setPicked} errors={errors.campaign_ids} />
      <label className="field">
        <span>Valid fraction</span>
        <input type="number" min={0} max={0.99} step={0.05} value={validFraction} onChange={(e) => setValidFraction(e.target.value)} />
        <span className="muted small">Split by prompt author: no author is in both train and valid.</span>
        <FieldErrors errors={errors.valid_fraction} />
      </label>
      <label className="field">
        <span>Name (optional)</span>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. comparisons-2026-11" maxLength={200} />
        <FieldErrors errors={errors.name} />
      </label>
      <div className="row-end">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Exporting…' : 'Export snapshot'}
        </button>
      </div>
    </form>
  )
}
