import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { api, type Campaign } from '../api'
import { StatusToggle } from './StatusToggle'

export function CampaignListPage() {
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    api
      .campaigns()
      .then(setCampaigns)
      .catch((e: Error) => setError(e.message))
  }, [])
  const replace = (c: Campaign) => setCampaigns((list) => (list ?? []).map((x) => (x.id === c.id ? c : x)))

  return (
    <div className="admin">
      <div className="row-between">
        <h1>Campaigns</h1>
        <Link className="button primary" to="/admin-ui/campaigns/new">
          New campaign
        </Link>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!campaigns && !error && <p role="status">Loading…</p>}
      {campaigns && campaigns.length === 0 && <p className="muted">No campaigns yet. Create one to start collecting labels.</p>}
      {campaigns && campaigns.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Task kinds</th>
              <th scope="col" className="num">
                K
              </th>
              <th scope="col" className="num">
                Overlap
              </th>
              <th scope="col" className="num">
                Priority
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {campaigns.map((c) => (
              <tr key={c.id}>
                <td>
                  <Link to={`/admin-ui/campaigns/${c.id}`}>{c.name}</Link>
                </td>
                <td>
                  <span className={`status status-${c.status}`}>{c.status}</span>
                </td>
                <td>{c.task_kinds.join(', ') || '—'}</td>
                <td className="num">{c.completions_per_prompt}</td>
                <td className="num">{c.labels_per_task}</td>
                <td className="num">{c.priority}</td>
                <td className="actions">
                  <Link to={`/admin-ui/campaigns/${c.id}/import`}>Import</Link>
                  <Link to={`/admin-ui/campaigns/${c.id}/progress`}>Progress</Link>
                  <StatusToggle campaign={c} onChange={replace} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
