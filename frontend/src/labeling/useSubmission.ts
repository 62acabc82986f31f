import { useCallback, useState } from 'react'
import { ApiError } from '../api'

export type SubmitState =
  | { status: 'idle' }
  | { status: 'submitting' }
  | {
      status: 'failed'
      message: string
      /** Keep the frozen body and offer Retry: network, 5xx, or a lost session (log in again, then retry). */
      retryable: boolean
      loggedOut: boolean
      conflict: boolean
      fieldErrors: Record<string, string[]>
    }

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
        const loggedOut = err.status === 401 || err.status === 403
        const retryable = err.retryable || loggedOut
        // A rejected body (400) must be fixed, not re-sent: forget it. Keep it for anything retryable.
        if (!retryable) setPending(null)
        setState({
          status: 'failed',
          message: err.message,
          retryable,
          loggedOut,
          conflict: err.status === 409,
          fieldErrors: err.fieldErrors,
        })
      }
    },
    [pending, setPending, send, onSuccess, state.status],
  )

  return { state, submit, reset: () => setState({ status: 'idle' }) }
}
