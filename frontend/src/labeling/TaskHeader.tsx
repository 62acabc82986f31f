import { useEffect, useState } from 'react'
import type { Assignment } from '../api'
import { Timer } from '../components/Timer'

function minutesLeft(expiresAt: string, now: number): number | null {
  const t = Date.parse(expiresAt)
  return Number.isFinite(t) ? Math.round((t - now) / 60000) : null
}

/** Campaign, task kind, the visible timer, the lease deadline and the Skip button. */
export function TaskHeader({
  assignment,
  elapsed,
  onSkip,
  showTimer = true,
}: {
  assignment: Assignment
  elapsed: number
  onSkip: () => void
  /** The ranking page shows the timer in its sticky side panel instead. */
  showTimer?: boolean
}) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 30_000)
    return () => window.clearInterval(t)
  }, [])
  const left = minutesLeft(assignment.expires_at, now)
  const { task } = assignment
  return (
    <div className="task-header">
      <div>
        <h1>
          {task.kind === 'ranking' ? 'Rate and rank the outputs' : 'Write a demonstration'}
        </h1>
        <p className="muted">
          {task.campaign.name} · task #{task.id}
          {task.prompt.category ? ` · ${task.prompt.category.replace(/_/g, ' ')}` : ''}
        </p>
      </div>
      <div className="task-header-right">
        {showTimer && <Timer seconds={elapsed} />}
        {left !== null && (
          <div className={`lease ${left <= 5 ? 'warn' : ''}`} title={`Lease expires at ${new Date(assignment.expires_at).toLocaleTimeString()}`}>
            {left > 0 && assignment.status !== 'expired' ? `lease: ${left} min left` : 'lease expired: submit now (the task may go to someone else)'}
          </div>
        )}
        <button type="button" className="button secondary" onClick={onSkip}>
          Skip…
        </button>
      </div>
    </div>
  )
}
