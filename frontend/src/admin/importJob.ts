import type { ImportJob, ImportReport, LineIssue } from '../api'

/** What the import page shows once an import is over. */
export type ImportOutcome = { ok: true; report: ImportReport } | { ok: false; message: string; errors: LineIssue[] }

export function isFinal(job: ImportJob): boolean {
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled'
}

/** "3.2 MB", "980 kB", "512 B" (decimal units, as file managers show sizes). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`
  if (n < 1_000_000) return `${(n / 1000).toFixed(0)} kB`
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(1)} MB`
  return `${(n / 1_000_000_000).toFixed(2)} GB`
}

/** One line under the progress bar: where a running import is. */
export function progressSummary(job: ImportJob): string {
  const lines = `${job.lines_read.toLocaleString('en-US')} line${job.lines_read === 1 ? '' : 's'} read`
  const total = job.bytes_total ?? 0
  const bytes = total > 0 ? `${formatBytes(job.bytes_read)} of ${formatBytes(total)}` : formatBytes(job.bytes_read)
  if (job.status === 'queued') return `Waiting for a worker to start the import of ${job.filename} (${formatBytes(total)})…`
  if (job.phase === 'writing') return `Writing the prompts, tasks and completions (${lines})…`
  return `Reading and checking: ${lines}, ${bytes} (${percent(job)} %)`
}

/** Bytes read as a whole percentage (0-100), what the progress bar shows. */
export function percent(job: ImportJob): number {
  const total = job.bytes_total ?? 0
  if (job.status === 'succeeded') return 100
  return total > 0 ? Math.min(100, Math.floor((100 * job.bytes_read) / total)) : 0
}

/** The report or the bad lines of a finished job (null while it runs). */
export function jobOutcome(job: ImportJob): ImportOutcome | null {
  if (!isFinal(job)) return null
  if (job.status === 'succeeded' && job.report) return { ok: true, report: job.report }
  return { ok: false, message: job.error || `the import ${job.status}`, errors: job.errors }
}
