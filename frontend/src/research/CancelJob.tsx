import { useState } from 'react'
import { Dialog } from '../components/Dialog'
import { errorText } from './hooks'
import { isLive, type JobDetail, researchApi } from './researchApi'

/** Cancel a queued or running job, after a confirmation dialog. */
export function CancelJob({ job, onCancelled }: { job: JobDetail; onCancelled: (j: JobDetail) => void }) {
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (!isLive(job.status)) return null
  if (job.cancel_requested) return <span className="muted small">Cancel requested…</span>

  async function cancel() {
    setBusy(true)
    setError(null)
    try {
      onCancelled(await researchApi.cancelJob(job.id))
      setOpen(false)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <button type="button" className="button danger" onClick={() => setOpen(true)}>
        Cancel job
      </button>
      <Dialog open={open} onClose={() => setOpen(false)} title={`Cancel job #${job.id}?`} className="narrow-dialog">
        <p>
          {job.status === 'queued'
            ? 'It has not started yet; it will not run.'
            : 'Its training process is stopped within a second; the last complete checkpoint is kept, no model is registered.'}
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row-end">
          <button type="button" className="button secondary" onClick={() => setOpen(false)}>
            Keep it running
          </button>
          <button type="button" className="button danger-solid" onClick={() => void cancel()} disabled={busy}>
            {busy ? 'Cancelling…' : 'Yes, cancel the job'}
          </button>
        </div>
      </Dialog>
    </>
  )
}
