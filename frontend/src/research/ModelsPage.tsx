import { Link } from 'react-router-dom'
import { dateText, HEADLINE, metricText, modelMetrics } from './format'
import { useHashTarget, useResource } from './hooks'
import { ModelForm } from './ModelForm'
import { researchApi, type ModelVersion } from './researchApi'
import { ErrorAlert, ResearchTabs } from './widgets'

function MetricsCell({ metrics }: { metrics: ModelVersion['metrics'] }) {
  const all = modelMetrics(metrics)
  if (!all.length) return <span className="muted">—</span>
  const shown = all.slice(0, 3)
  return (
    <span className="metric-list">
      {shown.map((m) => (
        <span key={m[0]} className={HEADLINE.test(m[0]) ? 'metric headline' : 'metric'}>
          {metricText(m)}
        </span>
      ))}
      {all.length > shown.length && (
        <details className="more">
          <summary>{all.length - shown.length} more</summary>
          {all.slice(shown.length).map((m) => (
            <span key={m[0]} className="metric">
              {metricText(m)}
            </span>
          ))}
        </details>
      )}
    </span>
  )
}

/** The model registry with lineage (parent, reward model, iteration and snapshots, all by name; never a path) and headline metrics. */
export function ModelsPage() {
  const { data: models, error, setData } = useResource(() => researchApi.models(), [])
  const snapshots = useResource(() => researchApi.snapshots(), [])
  const snapshotById = new Map((snapshots.data ?? []).map((x) => [x.id, x]))
  const target = useHashTarget(!!models)
  const byId = new Map((models ?? []).map((m) => [m.id, m]))
  const ref = (id: number | null) => {
    if (id === null) return <span className="muted">—</span>
    const m = byId.get(id)
    return <Link to={`#model-${id}`}>{m ? m.name : `#${id}`}</Link>
  }

  return (
    <div className="research">
      <ResearchTabs title="Models" />
      <section aria-labelledby="models-title">
          <h2 id="models-title" className="sr-only">
            Model registry
          </h2>
          <ErrorAlert error={error} />
          {!models && !error && <p role="status">Loading…</p>}
          {models && models.length === 0 && <p className="muted">No models yet. Register a base model to start.</p>}
          {models && models.length > 0 && (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Parent</th>
                  <th scope="col">Reward model</th>
                  <th scope="col">Iteration</th>
                  <th scope="col">Snapshots</th>
                  <th scope="col">Metrics</th>
                  <th scope="col">Made by</th>
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.id} id={`model-${m.id}`} className={target === `model-${m.id}` ? 'target' : undefined}>
                    <td className="name-cell">{m.name}</td>
                    <td>
                      <span className={`badge kind-${m.kind}`}>{m.kind}</span>
                    </td>
                    <td className="nowrap">{ref(m.parent)}</td>
                    <td className="nowrap">{ref(m.reward_model)}</td>
                    <td className="nowrap">
                      {m.iteration != null ? <Link to={`/research/iterations/${m.iteration}`}>#{m.iteration}</Link> : <span className="muted">—</span>}
                    </td>
                    <td className="small">
                      {m.snapshots?.length ? (
                        <ul className="plain">
                          {m.snapshots.map((id) => (
                            <li key={id}>
                              <Link to={`/research/snapshots#snapshot-${id}`}>{snapshotById.get(id)?.name ?? `snapshot #${id}`}</Link>
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td>
                      <MetricsCell metrics={m.metrics} />
                    </td>
                    <td className="small nowrap">
                      {m.job !== null ? <Link to={`/research/jobs/${m.job}`}>job #{m.job}</Link> : 'registered'}
                      <div className="muted">{dateText(m.created_at)}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
      <ModelForm models={models ?? []} onCreated={(m) => setData((list) => [m, ...(list ?? [])])} />
    </div>
  )
}
