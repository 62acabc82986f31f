import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { isAdmin, isLabeler, isResearcher } from '../api'
import { useAuth } from '../auth'
import { drafts } from '../drafts'
import { KindChooser } from './KindChooser'
import { type KindChoice, loadKindChoice, saveKindChoice } from './kindChoice'

/** The labeler's home: my counts, the campaigns I can work on, the kind of task to work on, Start labeling,
 * unsent drafts. */
export function HomePage() {
  const { me, refresh } = useAuth()
  const [kind, setKind] = useState<KindChoice>(() => (me ? loadKindChoice(me.id) : 'any'))
  useEffect(() => {
    void refresh() // counts change after every submission
  }, [refresh])
  if (!me) return null
  const choose = (choice: KindChoice) => {
    saveKindChoice(me.id, choice)
    setKind(choice)
  }
  const unsent = drafts(me.id).list()
  const open = me.campaigns.filter((c) => c.open_tasks > 0)

  return (
    <div className="home">
      <div className="row-between">
        <h1>Hello, {me.username}</h1>
        {isLabeler(me) && open.length > 0 && (
          <div className="start-labeling">
            <KindChooser value={kind} onChange={choose} />
            <Link className="button primary" to="/label">
              Start labeling
            </Link>
          </div>
        )}
      </div>
      <section className="stats" aria-label="My counts">
        <div className="stat">
          <span className="stat-value">{me.counts.today}</span>
          <span className="stat-label">labels today</span>
        </div>
        <div className="stat">
          <span className="stat-value">{me.counts.total}</span>
          <span className="stat-label">labels in total</span>
        </div>
        {me.counts.demonstrations !== undefined && (
          <div className="stat">
            <span className="stat-value">{me.counts.demonstrations}</span>
            <span className="stat-label">demonstrations</span>
          </div>
        )}
        {me.counts.rankings !== undefined && (
          <div className="stat">
            <span className="stat-value">{me.counts.rankings}</span>
            <span className="stat-label">rankings</span>
          </div>
        )}
        {me.counts.skipped !== undefined && (
          <div className="stat">
            <span className="stat-value">{me.counts.skipped}</span>
            <span className="stat-label">skipped</span>
          </div>
        )}
      </section>

      {unsent.length > 0 && (
        <section className="panel info" aria-labelledby="unsent-title">
          <h2 id="unsent-title">Unsent work on this device</h2>
          <ul>
            {unsent.map((a) => (
              <li key={a}>
                <Link to={`/label/a/${a}`}>Resume assignment #{a}</Link>
              </li>
            ))}
          </ul>
        </section>
      )}

      <section className="panel" aria-labelledby="campaigns-title">
        <h2 id="campaigns-title">Campaigns you can work on</h2>
        {me.campaigns.length === 0 ? (
          <p className="muted">
            No active campaign has work for you right now.
            {isAdmin(me) && (
              <>
                {' '}
                <Link to="/admin-ui/campaigns">Manage campaigns</Link>
              </>
            )}
            {isResearcher(me) && (
              <>
                {' '}
                <Link to="/research">Open the research dashboard</Link>
              </>
            )}
          </p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Campaign</th>
                <th scope="col" className="num">
                  Tasks open for you
                </th>
                <th scope="col">
                  <span className="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {me.campaigns.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td className="num">{c.open_tasks}</td>
                  <td className="actions">
                    {c.open_tasks > 0 ? (
                      <Link className="button" to={`/label?campaign=${c.id}`} aria-label={`Start labeling ${c.name}`}>
                        Start labeling
                      </Link>
                    ) : (
                      <span className="muted">all done</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  )
}
