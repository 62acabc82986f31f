import type { Campaign } from '../api'
import { FieldErrors } from './widgets'

/** Campaigns by name as checkboxes, each with its status; `picked` keeps the order they were ticked in. */
export function CampaignChecklist({
  legend,
  campaigns,
  picked,
  onChange,
  errors,
}: {
  legend: string
  campaigns: Campaign[]
  picked: number[]
  onChange: (ids: number[]) => void
  errors?: string[]
}) {
  const toggle = (id: number, on: boolean) => onChange(on ? [...picked.filter((x) => x !== id), id] : picked.filter((x) => x !== id))
  return (
    <fieldset className="field">
      <legend>{legend}</legend>
      <div className="check-list">
        {campaigns.length === 0 && <span className="muted small">No campaigns yet.</span>}
        {campaigns.map((c) => (
          <label key={c.id} className="check-row">
            <input type="checkbox" checked={picked.includes(c.id)} onChange={(e) => toggle(c.id, e.target.checked)} />
            <span>{c.name}</span>
            <span className={`status status-${c.status}`}>{c.status}</span>
          </label>
        ))}
      </div>
      <FieldErrors errors={errors} />
    </fieldset>
  )
}
