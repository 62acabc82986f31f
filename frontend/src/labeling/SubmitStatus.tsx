import type { SubmitState } from './useSubmission'

/** What happened to the last submit: a retry for failures that keep the work, a way on after a 409. */
export function SubmitStatus({
  state,
  onRetry,
  onDiscard,
  saveFailed,
}: {
  state: SubmitState
  onRetry: () => void
  onDiscard: () => void
  saveFailed: boolean
}) {
  return (
    <div className="submit-status">
      {saveFailed && (
        <p className="warning" role="alert">
          This browser refused to save a local draft (storage full or disabled): don’t reload before submitting.
        </p>
      )}
      {state.status === 'submitting' && (
        <p role="status" className="muted">
          Submitting…
        </p>
      )}
      {state.status === 'failed' && (
        <div className="error-box" role="alert">
          <p>
            <strong>Not submitted.</strong> {state.message}
          </p>
          {Object.entries(state.fieldErrors).length > 0 && (
            <ul>
              {Object.entries(state.fieldErrors).map(([k, msgs]) => (
                <li key={k}>
                  {k}: {msgs.join(' ')}
                </li>
              ))}
            </ul>
          )}
          {state.retryable && (
            <>
              <p>
                Your work is saved on this device.
                {state.loggedOut && ' Log in again in another tab (your session may have ended), then press Retry.'}
              </p>
              <button type="button" className="button" onClick={onRetry}>
                Retry
              </button>
            </>
          )}
          {state.conflict && (
            <>
              <p>Your draft is still saved on this device; it can no longer be submitted for this assignment.</p>
              <button type="button" className="button secondary" onClick={onDiscard}>
                Discard it and get the next task
              </button>
            </>
          )}
        </div>
      )}
    </div>
  )
}
