import { useState } from 'react'
import { api } from '../api'
import { dateText, shortSha, splitText } from './format'
import { useHashTarget, useResource } from './hooks'
import { researchApi, type Snapshot } from './researchApi'
import { SnapshotForm } from './SnapshotForm'
import { ErrorAlert, ResearchTabs } from './widgets'

/** Dataset snapshots (immutable exports of the labels) and the form that makes a new one. */
export function SnapshotsPage() {
  const { data: snapshots, error, setData } = useResource(() => researchApi.snapshots(), [])
  const { data: campaigns } = useResource(() => api.campaigns(), [])
  const [flash, setFlash] = useState<string | null>(null)
  const target = useHashTarget(!!snapshots)
  const campaignName = (id: number) => campaigns?.find((c) => c.id === id)?.name ?? `#${id}`

  const created = (s: Snapshot) => {
    setData((list) => [s, ...(list ?? [])])
    setFlash(`Exported ${s.name}: ${s.rows} rows (${splitText(s.split)}).`)
  }

  return (
    <div className="research">
      <ResearchTabs title="Snapshots" />
      {flash && (
        <p className="success" role="status">
          {flash}
        </p>
      )}
      <div className="research-layout">
        <section aria-labelledby="snapshots-title">
          <h2 id="snapshots-title" className="sr-only">
            All snapshots
          </h2>
          <ErrorAlert error={error} />
          {!snapshots && !error && <p role="status">Loading…</p>}
          {snapshots && snapshots.length === 0 && <p className="muted">No snapshots yet. Export one from campaigns with submitted labels.</p>}
          {snapshots && snapshots.length > 0 && (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col" className="num">
                    Rows
                  </th>
                  <th scope="col">Split</th>
                  <th scope="col">Campaigns</th>
                  <th scope="col">sha256</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {snapshots.map((s) => (
                  <tr key={s.id} id={`snapshot-${s.id}`} className={target === `snapshot-${s.id}` ? 'target' : undefined}>
                    <td className="name-cell">{s.name}</td>
                    <td>
                      <span className="badge">{s.kind}</span>
                    </td>
                    <td className="num">{s.rows}</td>
                    <td className="nowrap">{splitText(s.split)}</td>
                    <td>{s.campaigns.map(campaignName).join(', ') || '—'}</td>
                    <td>
                      <code title={s.sha256}>{shortSha(s.sha256)}</code>
                    </td>
                    <td className="small">
                      {dateText(s.created_at)}
                      {s.created_by && <span className="muted"> by {s.created_by}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <SnapshotForm campaigns={campaigns ?? []} onCreated={created} />
      </div>
    </div>
  )
}
