import { useState } from 'react'
import { useParams } from 'react-router-dom'
import { api, ApiError, type ImportReport, type LineIssue } from '../api'
import { CampaignTabs } from './CampaignTabs'
import { useCampaign } from './useCampaign'

type Result = { ok: true; report: ImportReport } | { ok: false; message: string; errors: LineIssue[] }

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

/** Upload prompts (JSONL or CSV) and show the import report, line by line. */
export function ImportPage() {
  const id = Number(useParams().id)
  const { campaign, setCampaign, error: loadError } = useCampaign(id)
  const [file, setFile] = useState<File | null>(null)
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<Result | null>(null)

  async function upload(e: React.FormEvent) {
    e.preventDefault()
    if (!file) return
    setBusy(true)
    setResult(null)
    try {
      setResult({ ok: true, report: await api.importPrompts(id, file) })
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
          <button type="submit" className="button primary" disabled={!file || busy}>
            {busy ? 'Importing…' : 'Import'}
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
