import { useCallback, useState } from 'react'
import { ApiError } from '../api'

export type SubmitState =
  | { status: 'idle' }
  | { status: 'submitting' }
  | { status: 'failed'; message: string; retryable: boolean; conflict: boolean; fieldErrors: Record<string, string[]> }

/**
 * Submit with "never lose work" semantics: the body is frozen as `pending` (and so saved in the draft)
 * before it is sent; a network error or 5xx keeps it for an identical retry; success clears the draft.
 */
export function useSubmission(opts: {
  pending: Record<string, unknown> | null
  setPending: (b: Record<string, unknown> | null) => void
  send: (body: Record<string, unknown>) => Promise<unknown>
  onSuccess: () => void
}) {
  const { pending, setPending, send, onSuccess } = opts
  const [state, setState] = useState<SubmitState>({ status: 'idle' })

  const submit = useCallback(
    async (build: () => Record<string, unknown>) => {
      if (state.status === 'submitting') return
      const body = pending ?? build()
      setPending(body)
      setState({ status: 'submitting' })
      try {
        await send(body)
        onSuccess()
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e))
        // A rejected body (400) must be fixed, not re-sent: forget it. Keep it for anything retryable.
        if (!err.retryable) setPending(null)
        setState({
          status: 'failed',
          message: err.message,
          retryable: err.retryable,
          conflict: err.status === 409,
          fieldErrors: err.fieldErrors,
        })
      }
    },
    [pending, setPending, send, onSuccess, state.status],
  )

  return { state, submit, reset: () => setState({ status: 'idle' }) }
}
