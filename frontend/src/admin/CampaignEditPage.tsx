import { useState } from 'react'
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom'
import { api, ApiError, type CampaignInput } from '../api'
import { CampaignForm } from './CampaignForm'
import { CampaignTabs } from './CampaignTabs'
import { useCampaign } from './useCampaign'

/** /admin-ui/campaigns/new and /admin-ui/campaigns/:id */
export function CampaignEditPage() {
  const params = useParams()
  const id = params.id ? Number(params.id) : null
  const navigate = useNavigate()
  const { campaign, setCampaign, error: loadError } = useCampaign(id)
  const [busy, setBusy] = useState(false)
  const [errors, setErrors] = useState<Record<string, string[]>>({})
  const location = useLocation()
  const [message, setMessage] = useState<string | null>((location.state as { message?: string } | null)?.message ?? null)
  const [error, setError] = useState<string | null>(null)

  async function save(v: CampaignInput) {
    setBusy(true)
    setErrors({})
    setError(null)
    setMessage(null)
    try {
      if (id === null) {
        const c = await api.createCampaign(v)
        const created = 'Campaign created. Next: import prompts, then activate it.'
        setMessage(created)
        navigate(`/admin-ui/campaigns/${c.id}`, { replace: true, state: { message: created } })
      } else {
        setCampaign(await api.updateCampaign(id, v))
        setMessage('Saved.')
      }
    } catch (e) {
      if (e instanceof ApiError) setErrors(e.fieldErrors)
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  if (loadError) return <p className="error" role="alert">Could not load the campaign: {loadError}</p>
  if (id !== null && !campaign) return <p role="status">Loading…</p>

  return (
    <div className="admin">
      {campaign ? <CampaignTabs campaign={campaign} onChange={setCampaign} /> : <h1>New campaign</h1>}
      {message && (
        <p className="success" role="status">
          {message}{' '}
          {campaign && <Link to={`/admin-ui/campaigns/${campaign.id}/import`}>Import prompts</Link>}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          Not saved: {error}
        </p>
      )}
      <CampaignForm key={campaign?.id ?? 'new'} initial={campaign} busy={busy} errors={errors} onSubmit={save} />
    </div>
  )
}
