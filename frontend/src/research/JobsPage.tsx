import { Link } from 'react-router-dom'
import { ageSeconds, ageText, dateText, durationText, runSeconds } from './format'
import { jobInputs, usePoll, useRegistry, useResource } from './hooks'
import { isLive, type Job, researchApi } from './researchApi'
import { ErrorAlert, JobProgress, ResearchTabs, StatusBadge } from './widgets'

function Inputs({ job, registry }: { job: Job; registry: ReturnType<typeof useRegistry> }) {
  const names = jobInputs(job, registry).map((i) => i.name)
  return <span className="small">{names.join(', ') || '—'}</span>
}

/** Run time (so far, while running, with the heartbeat's age), or "—" before it started. */
function Duration({ job, now }: { job: Job; now: number }) {
  const took = durationText(runSeconds(job, now))
  if (job.status !== 'running') return <span className="nowrap">{took}</span>
  return (
    <span className="nowrap">
      {took}
      <div className="muted">beat {ageText(ageSeconds(job.heartbeat_at, now))}</div>
    </span>
  )
}

/** Training jobs with status and progress; refreshes every 2 s while one is queued or running. */
export function JobsPage() {
  const { data: jobs, error, reload } = useResource(() => researchApi.jobs(), [])
  const registry = useRegistry()
  const live = !!jobs?.some((j) => isLive(j.status))
  usePoll(reload, live, 2000)
  const now = Date.now()

  return (
    <div className="research">
      <ResearchTabs title="Jobs">
        <Link className="button primary" to="/research/jobs/new">
          New job
        </Link>
      </ResearchTabs>
      <ErrorAlert error={error} />
      {!jobs && !error && <p role="status">Loading…</p>}
      {jobs && jobs.length === 0 && <p className="muted">No jobs yet. Start one with “New job”.</p>}
      {jobs && jobs.length > 0 && (
        <>
          <p className="muted small" aria-live="polite">
            {live ? 'Refreshing every 2 s while a job is queued or running.' : 'No job is running.'}
          </p>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Inputs</th>
                <th scope="col">Iteration</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link to={`/research/jobs/${j.id}`}>Job #{j.id}</Link>
                  </td>
                  <td>
                    <span className="badge">{j.kind}</span>
                  </td>
                  <td>
                    <StatusBadge status={j.status} cancelRequested={j.cancel_requested} />
                  </td>
                  <td>
                    <JobProgress value={j.progress} label={`Progress of job ${j.id}`} />
                  </td>
                  <td>
                    <Inputs job={j} registry={registry} />
                  </td>
                  <td className="small nowrap">
                    {j.iteration != null ? (
                      <>
                        <Link to={`/research/iterations/${j.iteration}`}>#{j.iteration}</Link> {j.stage}
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="small">
                    {dateText(j.created_at)}
                    {j.created_by && <div className="muted">by {j.created_by}</div>}
                  </td>
                  <td className="small">
                    <Duration job={j} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  )
}
