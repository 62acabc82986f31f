import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react'
import { useAuth } from '../auth'
import { createDraftStore, drafts, type DraftBody, MemoryStorage } from '../drafts'

/**
 * A task's working state, mirrored to the signed-in user's local draft store on every change (and the timer every few
 * seconds and when the page is hidden), so a reload or a crash restores it. `finish()` forgets it.
 */
export function useTaskDraft<B extends DraftBody>(
  assignmentId: number,
  initial: () => B,
  restore: (saved: DraftBody) => B | null,
) {
  const { me } = useAuth()
  // Keyed by the signed-in user (task pages are behind RequireAuth, so `me` is set; the memory store
  // is a guard that never writes one user's work where another could see it).
  const [store] = useState(() => (me ? drafts(me.id) : createDraftStore(new MemoryStorage(), 0)))
  const [boot] = useState(() => {
    const d = store.load(assignmentId)
    const restored = d ? restore(d.body) : null
    return {
      body: restored ?? initial(),
      seconds: restored ? d!.secondsSpent : 0,
      pending: restored ? (d!.pendingSubmit ?? null) : null,
      restored: !!restored,
    }
  })
  const [body, setBodyState] = useState<B>(boot.body)
  const [pending, setPending] = useState<Record<string, unknown> | null>(boot.pending)
  const [elapsed, setElapsed] = useState(boot.seconds)
  const [saveFailed, setSaveFailed] = useState(false)
  const seconds = useRef(boot.seconds)
  const finished = useRef(false)
  const latest = useRef({ body, pending })
  latest.current = { body, pending }

  const persist = useCallback(() => {
    if (finished.current) return
    const ok = store.save(assignmentId, latest.current.body, { secondsSpent: seconds.current, pendingSubmit: latest.current.pending })
    setSaveFailed(!ok)
  }, [assignmentId, store])

  // Save on every edit, in the commit that shows it (a layout effect): a passive effect may run a task
  // later, after a reload has already begun, and the draft would miss the last action.
  useLayoutEffect(persist, [body, pending, persist])

  // Time on task: counts while the tab is visible; saved every 5 s and when the page goes away.
  useEffect(() => {
    const tick = window.setInterval(() => {
      if (finished.current || document.visibilityState !== 'visible') return
      seconds.current += 1
      setElapsed(seconds.current)
      if (seconds.current % 5 === 0) persist()
    }, 1000)
    const onHide = () => persist()
    window.addEventListener('pagehide', onHide)
    document.addEventListener('visibilitychange', onHide)
    return () => {
      window.clearInterval(tick)
      window.removeEventListener('pagehide', onHide)
      document.removeEventListener('visibilitychange', onHide)
    }
  }, [persist])

  /** Any edit invalidates a body that failed to submit: the next submit sends the new work. */
  const setBody = useCallback((update: B | ((b: B) => B)) => {
    setBodyState(update)
    setPending(null)
  }, [])

  const finish = useCallback(() => {
    finished.current = true
    store.clear(assignmentId)
  }, [assignmentId, store])

  return { body, setBody, pending, setPending, elapsed, seconds, saveFailed, restored: boot.restored, finish }
}
