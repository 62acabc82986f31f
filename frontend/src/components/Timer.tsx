import { formatDuration } from '../text'

/** Time on task (active time in this tab), always visible while labeling. */
export function Timer({ seconds }: { seconds: number }) {
  return (
    <div className="timer" role="timer" aria-label="Time on task">
      <span className="timer-label">time</span> {formatDuration(seconds)}
    </div>
  )
}
