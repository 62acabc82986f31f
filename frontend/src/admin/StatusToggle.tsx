import { useState } from 'react'
import { api, type Campaign } from '../api'

/** Activate a draft/paused campaign, pause an active one. */
export function StatusToggle({ campaign, onChange }: { campaign: Campaign; onChange: (c: Campaign) => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const active = campaign.status === 'active'
  if (campaign.status === 'archived') return <span className="muted">archived</span>
  async function toggle() {
    setBusy(true)
    setError(null)
    try {
      onChange(active ? await api.pause(campaign.id) : await api.activate(campaign.id))
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <span className="status-toggle">
      <button type="button" className={`button ${active ? 'secondary' : ''}`} onClick={toggle} disabled={busy} aria-label={`${active ? 'Pause' : 'Activate'} ${campaign.name}`}>
        {active ? 'Pause' : 'Activate'}
      </button>
      {error && (
        <span className="error small" role="alert">
          {error}
        </span>
      )}
    </span>
  )
}
