import { useState } from 'react'
import { api } from '../api'

/** The Skip dialog's state and action; `onSkipped` runs after the server accepted the skip. */
export function useSkip(assignmentId: number, onSkipped: () => void) {
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  async function skip(reason: string) {
    setBusy(true)
    setError(null)
    try {
      await api.skip(assignmentId, reason)
      setOpen(false)
      onSkipped()
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  return { open, setOpen, busy, error, skip }
}
