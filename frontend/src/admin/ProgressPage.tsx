import { useCallback, useEffect, useState } from 'react'
import { useParams } from 'react-router-dom'
import { api, type Progress } from '../api'
import { CampaignTabs } from './CampaignTabs'
import { useCampaign } from './useCampaign'

function pct(a: number, b: number): number {
  return b > 0 ? Math.round((100 * a) / b) : 0
}

function PerDayChart({ rows }: { rows: Progress['labels_per_day'] }) {
  const max = Math.max(1, ...rows.map((r) => r.count))
  return (
    <figure className="per-day">
      <div className="bars" aria-hidden="true">
        {rows.map((r) => (
          <div key={r.date} className="bar-col" title={`${r.date}: ${r.count}`}>
            <span className="bar-value">{r.count || ''}</span>
            <div className="bar" style={{ height: `${(100 * r.count) / max}%` }} />
            <span className="bar-date">{r.date.slice(5)}</span>
          </div>
        ))}
      </div>
      <figcaption className="sr-only">
        <table>
          <caption>Labels per day</caption>
          <tbody>
            {rows.map((r) => (
              <tr key={r.date}>
                <th scope="row">{r.date}</th>
                <td>{r.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figcaption>
    </figure>
  )
}

/** Tasks done / total, labels per day, active labelers; refreshes every 30 s. */
export function ProgressPage() {
  const id = Number(useParams().id)
  const { campaign, setCampaign, error: loadError } = useCampaign(id)
  const [p, setP] = useState<Progress | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(() => {
    api
      .progress(id)
      .then((x) => {
        setP(x)
        setError(null)
      })
      .catch((e: Error) => setError(e.message))
  }, [id])
  useEffect(() => {
    load()
    const t = window.setInterval(load, 30_000)
    return () => window.clearInterval(t)
  }, [load])

  if (loadError) return <p className="error" role="alert">Could not load the campaign: {loadError}</p>
  if (!campaign) return <p role="status">Loading…</p>
  return (
    <div className="admin">
      <CampaignTabs campaign={campaign} onChange={setCampaign} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!p && !error && <p role="status">Loading…</p>}
      {p && (
        <>
          <section className="stats" aria-label="Progress">
            <div className="stat wide">
              <span className="stat-value">
                {p.tasks_done} / {p.tasks_total}
              </span>
              <span className="stat-label">tasks done ({pct(p.tasks_done, p.tasks_total)}%)</span>
              <progress max={Math.max(1, p.tasks_total)} value={p.tasks_done} aria-label="Tasks done" />
            </div>
            <div className="stat">
              <span className="stat-value">
                {p.labels_submitted} / {p.labels_required}
              </span>
              <span className="stat-label">labels submitted / required</span>
            </div>
            <div className="stat">
              <span className="stat-value">{p.active_labelers_24h}</span>
              <span className="stat-label">active labelers (24 h)</span>
            </div>
            <div className="stat">
              <span className="stat-value">{p.active_leases}</span>
              <span className="stat-label">tasks being worked on now</span>
            </div>
          </section>
          {p.as_of && (
            <p className="muted small">Counts as of {new Date(p.as_of).toLocaleTimeString()} (updated every 30 s; tasks being worked on: now).</p>
          )}
          <section className="panel" aria-labelledby="perday-title">
            <h2 id="perday-title">Labels per day (last {p.labels_per_day.length} days)</h2>
            {p.labels_per_day.length ? <PerDayChart rows={p.labels_per_day} /> : <p className="muted">No labels yet.</p>}
          </section>
          {p.by_kind && Object.keys(p.by_kind).length > 0 && (
            <section className="panel" aria-labelledby="bykind-title">
              <h2 id="bykind-title">By task kind</h2>
              <table className="table compact">
                <tbody>
                  {Object.entries(p.by_kind).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td>{typeof v === 'object' && v ? Object.entries(v as Record<string, unknown>).map(([a, b]) => `${a.replace(/_/g, ' ')}: ${String(b)}`).join(' · ') : String(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
        </>
      )}
    </div>
  )
}
