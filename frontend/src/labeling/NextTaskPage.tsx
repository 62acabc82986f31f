import { useEffect, useRef, useState } from 'react'
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom'
import { api } from '../api'

/** /label?campaign=ID — lease the next task (the server returns a live lease again) and open it. */
export function NextTaskPage() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const location = useLocation()
  const flash = (location.state as { flash?: string } | null)?.flash
  const campaign = Number(params.get('campaign')) || undefined
  const [state, setState] = useState<'loading' | 'empty' | 'error'>('loading')
  const [error, setError] = useState('')
  const [attempt, setAttempt] = useState(0)
  const started = useRef(-1)

  useEffect(() => {
    if (started.current === attempt) return // StrictMode runs effects twice in development
    started.current = attempt
    setState('loading')
    api
      .next(campaign)
      .then((a) => {
        if (a) navigate(`/label/a/${a.assignment_id}`, { replace: true, state: { assignment: a, flash } })
        else setState('empty')
      })
      .catch((e: Error) => {
        setError(e.message)
        setState('error')
      })
  }, [attempt, campaign, navigate, flash])

  return (
    <div className="narrow">
      {flash && (
        <p className="success" role="status">
          {flash}
        </p>
      )}
      {state === 'loading' && <p role="status">Finding your next task…</p>}
      {state === 'empty' && (
        <div className="panel">
          <h1>Nothing left for you here</h1>
          <p>There are no more tasks for you {campaign ? 'in this campaign' : 'right now'}. Thank you!</p>
          <Link className="button" to="/">
            Back to my campaigns
          </Link>
        </div>
      )}
      {state === 'error' && (
        <div className="error-box" role="alert">
          <p>Could not get a task: {error}</p>
          <button type="button" className="button" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        </div>
      )}
    </div>
  )
}
