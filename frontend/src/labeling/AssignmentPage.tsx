import { useEffect, useState } from 'react'
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom'
import { api, type Assignment } from '../api'
import { useAuth } from '../auth'
import { drafts } from '../drafts'
import { DemonstrationTask } from './DemonstrationTask'
import { RankingTask } from './RankingTask'

/** /label/a/:assignmentId — a reload lands here: the task comes back from the API, the work from the draft. */
export function AssignmentPage() {
  const id = Number(useParams().assignmentId)
  const location = useLocation()
  const navigate = useNavigate()
  const userId = useAuth().me?.id
  const passed = (location.state as { assignment?: Assignment; flash?: string } | null) ?? null
  const [assignment, setAssignment] = useState<Assignment | null>(
    passed?.assignment?.assignment_id === id ? passed.assignment : null,
  )
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    if (assignment?.assignment_id === id) return
    let live = true
    api
      .assignment(id)
      .then((a) => live && setAssignment(a))
      .catch((e: Error) => live && setError(e.message))
    return () => {
      live = false
    }
  }, [id, assignment])

  const finished = assignment?.status === 'submitted' || assignment?.status === 'skipped'
  useEffect(() => {
    if (finished && userId !== undefined) drafts(userId).clear(id) // the server has the final word on it: a local copy is obsolete
  }, [finished, id, userId])

  if (error) {
    return (
      <div className="error-box narrow" role="alert">
        <p>Could not open assignment #{id}: {error}</p>
        <Link to="/">Back to my campaigns</Link>
      </div>
    )
  }
  if (!assignment) return <p role="status">Loading task…</p>

  if (finished) {
    return (
      <div className="panel narrow" role="status">
        <h1>This task is already {assignment.status}</h1>
        <p>Assignment #{id} was {assignment.status}; nothing more to do here.</p>
        <Link className="button primary" to={`/label?campaign=${assignment.task.campaign.id}`}>
          Next task
        </Link>{' '}
        <Link className="button secondary" to="/">
          Home
        </Link>
      </div>
    )
  }

  const campaignId = assignment.task.campaign.id
  const next = (flash: string) => navigate(`/label?campaign=${campaignId}`, { state: { flash } })
  return (
    <>
      {passed?.flash && (
        <p className="success flash" role="status">
          {passed.flash}
        </p>
      )}
      {assignment.task.kind === 'ranking' ? (
        <RankingTask key={id} assignment={assignment} onDone={next} />
      ) : (
        <DemonstrationTask key={id} assignment={assignment} onDone={next} />
      )}
    </>
  )
}
