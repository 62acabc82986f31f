import { Link } from 'react-router-dom'
import { dateText, intervalText, percent } from './format'
import { api } from '../api'
import { usePoll, useResource } from './hooks'
import { IterationTriggerForm } from './IterationTriggerForm'
import { iterationLive, stageProgress } from './iterationForm'
import { researchApi } from './researchApi'
import { ErrorAlert, JobProgress, ResearchTabs, StatusBadge } from './widgets'

/** Iterations (InstructGPT rounds): status, method, how far the stages got, the policy's win rate; live refresh. */
export function IterationsPage() {
  const { data: iterations, error, reload } = useResource(() => researchApi.iterations(), [])
  const campaigns = useResource(() => api.campaigns(), [])
  const models = useResource(() => researchApi.models(), [])
  const live = !!iterations?.some(iterationLive)
  usePoll(reload, live, 3000)
  return (
    <div className="research">
      <ResearchTabs title="Iterations">
        <Link className="button primary" to="/research/iterations/new">
          New iteration
        </Link>
      </ResearchTabs>
      <ErrorAlert error={error} />
      {!iterations && !error && <p role="status">Loading…</p>}
      {iterations && iterations.length === 0 && <p className="muted">No iterations yet. Start one with “New iteration”.</p>}
      {iterations && iterations.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Iteration</th>
              <th scope="col">Status</th>
              <th scope="col">Method</th>
              <th scope="col">Stages</th>
              <th scope="col">Win rate over parent</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {iterations.map((it) => {
              const p = stageProgress(it)
              return (
                <tr key={it.id}>
                  <td className="name-cell">
                    <Link to={`/research/iterations/${it.id}`}>{it.name || `Iteration #${it.id}`}</Link>
                    <div className="muted small">from {it.base_model.name}</div>
                  </td>
                  <td>
                    <StatusBadge status={it.status} />
                  </td>
                  <td>
                    <span className="badge">{it.method}</span>
                  </td>
                  <td className="small">
                    <JobProgress value={p.total ? p.done / p.total : 0} label={`Stages of iteration ${it.id}`} />
                    <div>{p.text}</div>
                  </td>
                  <td className="small">
                    {it.win_rate ? (
                      <>
                        <strong>{percent(it.win_rate.value, 1)}</strong>
                        {it.win_rate.ci_low !== null && it.win_rate.ci_high !== null && (
                          <div className="muted">{intervalText({ low: it.win_rate.ci_low, high: it.win_rate.ci_high, method: '' })}</div>
                        )}
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="small">
                    {dateText(it.created_at)}
                    {it.created_by && <div className="muted">by {it.created_by}</div>}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      <IterationTriggerForm campaigns={campaigns.data ?? []} models={models.data ?? []} />
    </div>
  )
}
