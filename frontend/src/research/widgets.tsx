import type { ReactNode } from 'react'
import { useResource } from './hooks'
import { type KindSpec, researchApi } from './researchApi'
import { NavLink } from 'react-router-dom'
import type { IterationStatus, JobStatus, StageStatus } from './researchApi'

/** Title + the research sub-navigation. */
export function ResearchTabs({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="research-head">
      <div className="row-between">
        <h1>{title}</h1>
        {children}
      </div>
      <nav className="tabs" aria-label="Research pages">
        <NavLink to="/research/snapshots">Snapshots</NavLink>
        <NavLink to="/research/models">Models</NavLink>
        <NavLink to="/research/jobs">Jobs</NavLink>
        <NavLink to="/research/iterations">Iterations</NavLink>
        <NavLink to="/research/leaderboard">Leaderboard</NavLink>
      </nav>
    </div>
  )
}

/** A job's, iteration's or stage's status (queued/pending, running, succeeded, failed, cancelled). */
export function StatusBadge({ status, cancelRequested = false }: { status: JobStatus | StageStatus | IterationStatus; cancelRequested?: boolean }) {
  return (
    <span className={`status job-${status}`}>
      {status}
      {cancelRequested && status === 'running' ? ' · cancelling' : ''}
    </span>
  )
}

export function JobProgress({ value, label }: { value: number; label: string }) {
  const pct = Math.round(100 * Math.min(Math.max(value, 0), 1))
  return (
    <span className="job-progress">
      <progress max={100} value={pct} aria-label={label} />
      <span className="small muted">{pct} %</span>
    </span>
  )
}

export function FieldErrors({ errors }: { errors?: string[] }) {
  if (!errors?.length) return null
  return (
    <span className="error small" role="alert">
      {errors.join(' ')}
    </span>
  )
}

export function ErrorAlert({ error }: { error: string | null | undefined }) {
  if (!error) return null
  return (
    <p className="error" role="alert">
      {error}
    </p>
  )
}

/** A page whose form is built from `GET /job-kinds`: the title, then the form once the kinds are loaded. */
export function JobKindsPage({ title, children }: { title: string; children: (kinds: KindSpec[]) => ReactNode }) {
  const kinds = useResource(() => researchApi.jobKinds(), [])
  return (
    <div className="research">
      <ResearchTabs title={title} />
      <ErrorAlert error={kinds.error && `Could not load the job kinds: ${kinds.error}`} />
      {!kinds.data && !kinds.error && <p role="status">Loading…</p>}
      {kinds.data && children(kinds.data)}
    </div>
  )
}
