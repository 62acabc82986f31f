import { NavLink } from 'react-router-dom'
import type { Campaign } from '../api'
import { StatusToggle } from './StatusToggle'

/** Title + sub-navigation shared by a campaign's admin pages. */
export function CampaignTabs({ campaign, onChange }: { campaign: Campaign; onChange: (c: Campaign) => void }) {
  const base = `/admin-ui/campaigns/${campaign.id}`
  return (
    <div className="campaign-head">
      <div className="row-between">
        <div>
          <p className="muted small">
            <NavLink to="/admin-ui/campaigns">Campaigns</NavLink> /
          </p>
          <h1>
            {campaign.name} <span className={`status status-${campaign.status}`}>{campaign.status}</span>
          </h1>
        </div>
        <StatusToggle campaign={campaign} onChange={onChange} />
      </div>
      <nav className="tabs" aria-label="Campaign pages">
        <NavLink to={base} end>
          Settings
        </NavLink>
        <NavLink to={`${base}/import`}>Import prompts</NavLink>
        <NavLink to={`${base}/progress`}>Progress</NavLink>
        <NavLink to={`${base}/quality`}>Quality</NavLink>
      </nav>
    </div>
  )
}
