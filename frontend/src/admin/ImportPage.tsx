import { useEffect, useState } from 'react'
import { useParams, useSearchParams } from 'react-router-dom'
import { api, ApiError, type ImportJob, type LineIssue } from '../api'
import { CampaignTabs } from './CampaignTabs'
import { jobOutcome, percent, progressSummary, type ImportOutcome } from './importJob'
import { useCampaign } from './useCampaign'

type Result = ImportOutcome
const POLL_MS = 1000

function lineIssues(body: Record<string, unknown> | null): LineIssue[] {
  const errs = body?.errors
  if (!Array.isArray(errs)) return []
  return errs
    .filter((x): x is { line: unknown; reason: unknown } => !!x && typeof x === 'object')
    .map((x) => ({ line: Number(x.line), reason: String(x.reason) }))
}

function IssueTable({ caption, rows }: { caption: string; rows: LineIssue[] }) {
  return (
    <table className="table compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col" className="num">
            Line
          </th>
          <th scope="col">Problem</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={`${r.line}-${i}`}>
            <td className="num">
              <span className="line-no">line {r.line}</span>
            </td>
            <td>{r.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Follow a background import (a large file) until it is over; the job id lives in the URL (?job=),
 * so a reload keeps following it. */
function useImportJob(campaignId: number, onDone: (r: Result) => void) {
  const [params, setParams] = useSearchParams()
  const jobId = Number(params.get('job')) || null
  const [job, setJob] = useState<ImportJob | null>(null)
  const [pollError, setPollError] = useState<string | null>(null)
  useEffect(() => {
    if (!jobId) return
    let stopped = false
    let timer = 0
    async function poll() {
      try {
        const next = await api.importJob(campaignId, jobId as number)
        if (stopped) return
        setJob(next)
        setPollError(null)
        const outcome = jobOutcome(next)
        if (outcome) {
          onDone(outcome)
          return
        }
      } catch (err) {
        if (stopped) return
        setPollError(err instanceof Error ? err.message : String(err))
        if (err instanceof ApiError && !err.retryable) return
      }
      timer = window.setTimeout(poll, POLL_MS)
    }
    void poll()
    return () => {
      stopped = true
      window.clearTimeout(timer)
    }
  }, [campaignId, jobId])
  const follow = (started: ImportJob | null) => {
    setJob(started)
    setParams(started ? { job: String(started.id) } : {}, { replace: true })
  }
  return { job, follow, pollError }
}

function JobProgress({ job, pollError }: { job: ImportJob; pollError: string | null }) {
  return (
    <section className="panel import-progress" aria-labelledby="import-progress-title">
      <h2 id="import-progress-title">Importing {job.filename}</h2>
      <progress aria-label="Import progress" max={100} value={percent(job)} />
      <p role="status">{progressSummary(job)}</p>
      {pollError && <p className="muted small">Could not refresh ({pollError}); trying again…</p>}
    </section>
  )
}

/** Upload prompts (JSONL or CSV) and show the import report, line by line. Large files are imported
 * by a background job: its progress is shown until the report (or the bad lines) arrives. */
export function ImportPage() {
  const id = Number(useParams().id)
  const { campaign, setCampaign, error: loadError } = useCampaign(id)
  const [file, setFile] = useState<File | null>(null)
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<Result | null>(null)
  const { job, follow, pollError } = useImportJob(id, setResult)
  const running = !!job && !result

  async function upload(e: React.FormEvent) {
    e.preventDefault()
    if (!file) return
    setBusy(true)
    setResult(null)
    follow(null)
    try {
      const started = await api.importPrompts(id, file)
      if ('job' in started) follow(started.job)
      else setResult({ ok: true, report: started.report })
    } catch (err) {
      const body = err instanceof ApiError ? err.body : null
      setResult({ ok: false, message: err instanceof Error ? err.message : String(err), errors: lineIssues(body) })
    } finally {
      setBusy(false)
    }
  }

  if (loadError) return <p className="error" role="alert">Could not load the campaign: {loadError}</p>
  if (!campaign) return <p role="status">Loading…</p>
  return (
    <div className="admin">
      <CampaignTabs campaign={campaign} onChange={setCampaign} />
      <div className="import-layout">
        <form className="panel" onSubmit={upload}>
          <h2>Upload prompts</h2>
          <label className="field">
            <span>Prompts file (.jsonl or .csv)</span>
            <input type="file" name="file" accept=".jsonl,.csv,.json,application/json,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </label>
          <p className="muted small">All or nothing: if any line is bad, nothing is imported and every bad line is listed.</p>
          <p className="muted small">Large files are imported in the background: their progress is shown here, and the import goes on if you leave this page.</p>
          <button type="submit" className="button primary" disabled={!file || busy || running}>
            {busy ? 'Uploading…' : running ? 'Importing…' : 'Import'}
          </button>
        </form>
        <section className="panel format-help" aria-labelledby="format-title">
          <h2 id="format-title">Formats</h2>
          <p>
            <strong>JSONL</strong>: one JSON object a line, <code>{'{"prompt": "text"}'}</code> or{' '}
            <code>{'{"messages": [{"role": "user", "content": "…"}]}'}</code>; optional <code>author_id</code>, <code>category</code>,{' '}
            <code>source_id</code>, <code>metadata</code>, <code>completions</code> (outputs to rank).
          </p>
          <p>
            <strong>CSV</strong>: a header with <code>prompt</code> (required) and optional <code>author_id</code>, <code>category</code>,{' '}
            <code>source_id</code>, <code>completion_1</code> … <code>completion_9</code>.
          </p>
        </section>
      </div>
      {running && <JobProgress job={job} pollError={pollError} />}
      <div aria-live="polite" className="import-report">
        {result?.ok === true && (
          <section className="panel success-box" aria-labelledby="report-title">
            <h2 id="report-title">Import report</h2>
            <p>
              Imported <strong>{result.report.imported}</strong> prompt{result.report.imported === 1 ? '' : 's'}, created{' '}
              <strong>{result.report.tasks_created}</strong> task{result.report.tasks_created === 1 ? '' : 's'}.
            </p>
            {result.report.duplicates_count > 0 && (
              <IssueTable
                caption={`${result.report.duplicates_count} duplicate line(s) skipped${
                  result.report.duplicates_count > result.report.duplicates.length ? ` (the first ${result.report.duplicates.length} listed)` : ''
                }`}
                rows={result.report.duplicates}
              />
            )}
          </section>
        )}
        {result?.ok === false && (
          <section className="panel error-box" role="alert" aria-labelledby="report-title">
            <h2 id="report-title">Import report: nothing was imported</h2>
            <p>{result.message}</p>
            {result.errors.length > 0 && <IssueTable caption="Fix these lines and upload the file again" rows={result.errors} />}
          </section>
        )}
      </div>
    </div>
  )
}
