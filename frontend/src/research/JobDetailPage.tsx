import { Fragment, useEffect, useRef } from 'react'
import { Link, useLocation, useParams } from 'react-router-dom'
import { CancelJob } from './CancelJob'
import { EvaluateResult } from './EvaluateResult'
import { ageSeconds, ageText, dateText, durationText, roughDuration, runSeconds } from './format'
import { JobMetrics } from './JobMetrics'
import { jobInputs, usePoll, useRegistry, useResource } from './hooks'
import { isLive, type JobDetail, researchApi } from './researchApi'
import { ErrorAlert, JobProgress, ResearchTabs, StatusBadge } from './widgets'

const json = (v: unknown) => JSON.stringify(v, null, 2)

function Facts({ job }: { job: JobDetail }) {
  const now = Date.now()
  const beat = ageSeconds(job.heartbeat_at, now)
  const live = isLive(job.status)
  const stale = job.status === 'running' && (beat === null || beat > 60)
  const took = durationText(runSeconds(job, now))
  return (
    <section className="panel" aria-labelledby="status-title">
      <h2 id="status-title">Status</h2>
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={job.status} cancelRequested={job.cancel_requested} />
        </dd>
        <dt>Progress</dt>
        <dd>
          <JobProgress value={job.progress} label="Job progress" />
        </dd>
        {job.status === 'running' && (
          <>
            <dt>Heartbeat</dt>
            <dd className={stale ? 'warn-text' : undefined}>
              {ageText(beat)}
              {stale && ' (no sign of life for over a minute)'}
            </dd>
          </>
        )}
        {job.iteration != null && (
          <>
            <dt>Iteration</dt>
            <dd>
              <Link to={`/research/iterations/${job.iteration}`}>Iteration #{job.iteration}</Link>
              {job.stage && <span className="badge">{job.stage}</span>}
            </dd>
          </>
        )}
        <dt>Attempts</dt>
        <dd>{job.attempts}</dd>
        <dt>Created</dt>
        <dd>
          {dateText(job.created_at)}
          {job.created_by && ` by ${job.created_by}`}
        </dd>
        <dt>Started</dt>
        <dd>{dateText(job.started_at)}</dd>
        {live ? (
          job.started_at && (
            <>
              <dt>Running for</dt>
              <dd>{took}</dd>
            </>
          )
        ) : (
          <>
            <dt>Finished</dt>
            <dd>{dateText(job.finished_at)}</dd>
            <dt>Duration</dt>
            <dd>{took}</dd>
          </>
        )}
        {job.estimate?.seconds != null && (
          <>
            <dt>Estimated</dt>
            <dd>{roughDuration(job.estimate.seconds)}</dd>
          </>
        )}
        <dt>Output folder</dt>
        <dd className="path">{job.output_dir || '—'}</dd>
      </dl>
    </section>
  )
}

function Io({ job, registry }: { job: JobDetail; registry: ReturnType<typeof useRegistry> }) {
  const model = (id: number) => {
    const m = registry.modelById.get(id)
    return (
      <li key={id}>
        <Link to={`/research/models#model-${id}`}>{m ? m.name : `model #${id}`}</Link>
        {m && <span className="badge">{m.kind}</span>}
      </li>
    )
  }
  const inputs = jobInputs(job, registry)
  return (
    <section className="panel" aria-labelledby="io-title">
      <h2 id="io-title">Inputs and outputs</h2>
      <h3>Inputs</h3>
      <dl className="facts">
        {inputs.map((i) => (
          <Fragment key={i.key}>
            <dt>{i.label}</dt>
            <dd>
              <Link to={i.type === 'model' ? `/research/models#model-${i.id}` : `/research/snapshots#snapshot-${i.id}`}>{i.name}</Link>
              <span className="badge">{i.type}</span>
            </dd>
          </Fragment>
        ))}
        {inputs.length === 0 && <dd className="muted">none</dd>}
      </dl>
      <h3>Produced models</h3>
      <ul className="plain">
        {job.model_versions.map(model)}
        {job.model_versions.length === 0 && <li className="muted">{job.status === 'succeeded' ? 'none (this kind makes no model)' : 'none yet'}</li>}
      </ul>
    </section>
  )
}

function LogTail({ text }: { text: string }) {
  const ref = useRef<HTMLPreElement>(null)
  useEffect(() => {
    if (ref.current) ref.current.scrollTop = ref.current.scrollHeight // follow the end, like tail -f
  }, [text])
  return (
    <section className="panel" aria-labelledby="log-title">
      <h2 id="log-title">Log (last lines)</h2>
      {text ? (
        <pre ref={ref} className="log" tabIndex={0}>
          {text}
        </pre>
      ) : (
        <p className="muted">Nothing logged yet.</p>
      )}
    </section>
  )
}

/** One job: status, progress, heartbeat, inputs and outputs, metric plots, log tail, result; refreshes while live. */
export function JobDetailPage() {
  const id = Number(useParams().id)
  const flash = (useLocation().state as { flash?: string } | null)?.flash
  const { data: job, error, reload, setData } = useResource(() => researchApi.job(id), [id])
  const registry = useRegistry()
  usePoll(reload, !!job && isLive(job.status), 2000)
  // A job that just finished may have registered a model the registry list has not seen yet.
  const producedKey = job ? `${job.status}:${job.model_versions.join(',')}` : ''
  useEffect(() => {
    if (job && registry.models.data && job.model_versions.some((m) => !registry.modelById.has(m))) void registry.models.reload()
    // Deliberately keyed on the job, not on the registry: one reload per change, never a loop.
  }, [producedKey, !!registry.models.data])

  if (!job) {
    return (
      <div className="research">
        <ResearchTabs title={`Job #${id}`} />
        {error ? <ErrorAlert error={`Could not load job #${id}: ${error}`} /> : <p role="status">Loading…</p>}
      </div>
    )
  }
  return (
    <div className="research">
      <ResearchTabs title={`Job #${job.id} · ${job.kind}`}>
        <span className="head-actions">
          <StatusBadge status={job.status} cancelRequested={job.cancel_requested} />
          <CancelJob job={job} onCancelled={setData} />
        </span>
      </ResearchTabs>
      {flash && job.status === 'queued' && (
        <p className="success" role="status">
          {flash}
        </p>
      )}
      {error && <ErrorAlert error={`Could not refresh: ${error}`} />}
      {job.kind === 'evaluate' && <EvaluateResult result={job.result} inputs={job.inputs ?? {}} />}
      {job.error && (
        <section className="error-box job-error" aria-labelledby="error-title">
          <h2 id="error-title">Error</h2>
          <pre>{job.error}</pre>
        </section>
      )}
      <div className="detail-grid">
        <Facts job={job} />
        <Io job={job} registry={registry} />
      </div>
      {(isLive(job.status) || job.metrics.length > 0) && <JobMetrics rows={job.metrics} />}
      {(isLive(job.status) || job.log_tail) && <LogTail text={job.log_tail} />}
      <div className="detail-grid">
        <section className="panel" aria-labelledby="params-title">
          <h2 id="params-title">Params</h2>
          <pre className="json">{json(job.params)}</pre>
        </section>
        <section className="panel" aria-labelledby="result-title">
          <h2 id="result-title">Result</h2>
          {Object.keys(job.result ?? {}).length ? <pre className="json">{json(job.result)}</pre> : <p className="muted">No result yet.</p>}
        </section>
      </div>
    </div>
  )
}
