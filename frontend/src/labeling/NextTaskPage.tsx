import { useEffect, useRef, useState } from 'react'
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom'
import { api } from '../api'
import { useAuth } from '../auth'
import { KindChooser } from './KindChooser'
import { isKindChoice, type KindChoice, kindPlural, loadKindChoice, queueKind, saveKindChoice } from './kindChoice'

/** /label?campaign=ID[&kind=ranking] — lease the next task of the kind the labeler chose (the server returns a
 * live lease again, whatever its kind) and open it. */
export function NextTaskPage() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const location = useLocation()
  const userId = useAuth().me?.id ?? 0
  const flash = (location.state as { flash?: string } | null)?.flash
  const campaign = Number(params.get('campaign')) || undefined
  const linked = params.get('kind')
  const [kind, setKind] = useState<KindChoice>(() => (isKindChoice(linked) ? linked : loadKindChoice(userId)))
  const [state, setState] = useState<'loading' | 'empty' | 'error'>('loading')
  const [error, setError] = useState('')
  const [attempt, setAttempt] = useState(0)
  const started = useRef(-1)

  useEffect(() => {
    if (started.current === attempt) return // StrictMode runs effects twice in development
    started.current = attempt
    setState('loading')
    api
      .next(campaign, queueKind(kind))
      .then((a) => {
        const held = a && kind !== 'any' && a.task.kind !== kind
        const note = held ? `You still hold this ${a.task.kind} task: submit or skip it to get ${kindPlural(kind)}.` : flash
        if (a) navigate(`/label/a/${a.assignment_id}`, { replace: true, state: { assignment: a, flash: note } })
        else setState('empty')
      })
      .catch((e: Error) => {
        setError(e.message)
        setState('error')
      })
  }, [attempt, campaign, kind, navigate, flash])

  const choose = (choice: KindChoice) => {
    saveKindChoice(userId, choice)
    setKind(choice)
    setAttempt((n) => n + 1)
  }

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
          <p>
            There are no more {kindPlural(kind)} for you {campaign ? 'in this campaign' : 'right now'}. Thank you!
          </p>
          {kind !== 'any' && <KindChooser value={kind} onChange={choose} />}
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
