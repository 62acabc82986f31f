import { useState } from 'react'
import { Dialog } from '../components/Dialog'

const REASONS = [
  'I can’t understand the prompt',
  'It needs expertise I don’t have',
  'The content is too disturbing for me',
  'The outputs are broken or identical',
  'Other',
]

/** Skip with a reason (required). */
export function SkipDialog({
  open,
  onClose,
  onSkip,
  busy,
  error,
}: {
  open: boolean
  onClose: () => void
  onSkip: (reason: string) => void
  busy: boolean
  error: string | null
}) {
  const [choice, setChoice] = useState('')
  const [detail, setDetail] = useState('')
  const reason = choice === 'Other' ? detail.trim() : [choice, detail.trim()].filter(Boolean).join(': ')
  return (
    <Dialog open={open} onClose={onClose} title="Skip this task">
      <form
        onSubmit={(e) => {
          e.preventDefault()
          if (reason) onSkip(reason)
        }}
      >
        <fieldset>
          <legend>Why are you skipping it?</legend>
          {REASONS.map((r) => (
            <label key={r} className="radio-row">
              <input type="radio" name="skip-reason" value={r} checked={choice === r} onChange={() => setChoice(r)} /> {r}
            </label>
          ))}
        </fieldset>
        <label className="field">
          <span>{choice === 'Other' ? 'Reason (required)' : 'Details (optional)'}</span>
          <textarea rows={2} value={detail} onChange={(e) => setDetail(e.target.value)} />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row-end">
          <button type="button" className="button secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button" disabled={!reason || busy}>
            {busy ? 'Skipping…' : 'Skip task'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
