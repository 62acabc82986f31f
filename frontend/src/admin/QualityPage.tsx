import { useCallback, useEffect, useState } from 'react'
import { useParams } from 'react-router-dom'
import { CampaignTabs } from './CampaignTabs'
import { ciBar, describe } from './ciScale'
import {
  FIGURE_NAMES, isComputed, qualityApi, SIGNALS, type AgreementReport, type AsOf, type Figure, type FigureName, type LabelerSignals,
  type ReviewItem, type Signal,
} from './qualityApi'
import { useCampaign } from './useCampaign'

const LABELS: Record<FigureName, string> = {
  pairwise_agreement: 'Pairwise agreement (labeler pairs)',
  kendall_tau_b: 'Kendall τ-b vs the others’ consensus',
  alpha_likert: 'Krippendorff α, Likert (ordinal)',
  alpha_preferences: 'Krippendorff α, preferences (ordinal)',
  gold_agreement: 'Agreement with gold',
}

/** A figure as a bar: the interval shaded, the value marked; the numbers stay readable beside it. */
function CiRow({ label, f }: { label: string; f: Figure }) {
  const bar = ciBar(f)
  return (
    <tr>
      <th scope="row">{label}</th>
      <td style={{ width: '40%' }}>
        {bar && (
          <div aria-hidden="true" style={{ position: 'relative', height: '0.8rem', background: 'var(--line)', borderRadius: 4 }}>
            <div style={{ position: 'absolute', left: `${bar.left}%`, width: `${Math.max(bar.width, 0.5)}%`, top: 0, bottom: 0, background: 'var(--accent)', opacity: 0.35 }} />
            <div style={{ position: 'absolute', left: `calc(${bar.mark}% - 1px)`, width: 2, top: -2, bottom: -2, background: 'var(--accent)' }} />
            <div style={{ position: 'absolute', left: '50%', top: 0, bottom: 0, width: 1, background: 'var(--muted)' }} />
          </div>
        )}
      </td>
      <td className="small">{describe(f)}</td>
    </tr>
  )
}

function FigureTable({ figures, caption }: { figures: Partial<Record<FigureName, Figure>>; caption: string }) {
  return (
    <table className="table compact">
      <caption className="sr-only">{caption} (axis −1 to 1, centre line at 0)</caption>
      <tbody>
        {FIGURE_NAMES.filter((n) => figures[n]).map((n) => (
          <CiRow key={n} label={LABELS[n]} f={figures[n] as Figure} />
        ))}
      </tbody>
    </table>
  )
}

function ReviewCard({ item, onDecide }: { item: ReviewItem; onDecide: (id: number, d: 'accept' | 'reject', reason: string) => void }) {
  const [reasons, setReasons] = useState<Record<number, string>>({})
  const text = Object.fromEntries(item.completions.map((c, i) => [c.id, `#${i + 1}`]))
  const show = (groups: number[][]) => groups.map((g) => g.map((c) => text[c] ?? c).join(' = ')).join(' > ')
  return (
    <article className="panel" aria-label={`Task ${item.task_id}`}>
      <h3>Task {item.task_id} · agreement {item.agreement === null ? '—' : item.agreement.toFixed(2)}</h3>
      {/* Prompts and outputs are untrusted text: rendered as text, never as HTML. */}
      <p className="muted small">{item.prompt.at(-1)?.content}</p>
      <ol className="small">
        {item.completions.map((c) => (
          <li key={c.id}>{c.text}</li>
        ))}
      </ol>
      <p className="small">Consensus: {show(item.consensus)}</p>
      <table className="table compact">
        <thead>
          <tr><th>Labeler</th><th>Ranking</th><th className="num">Seconds</th><th>Signals</th><th>Decision</th></tr>
        </thead>
        <tbody>
          {item.labels.map((l) => (
            <tr key={l.assignment_id}>
              <td>{l.username}</td>
              <td>{show(l.ranking)}</td>
              <td className="num">{l.seconds_spent === null ? '—' : Math.round(l.seconds_spent)}</td>
              <td>{l.labeler_flags.join(', ') || '—'}</td>
              <td>
                {l.review ? (
                  `${l.review.decision} by ${l.review.reviewer}${l.review.reason ? `: ${l.review.reason}` : ''}`
                ) : (
                  <>
                    <input aria-label={`Reason for label ${l.assignment_id}`} placeholder="reason (needed to reject)"
                      value={reasons[l.assignment_id] ?? ''}
                      onChange={(e) => setReasons({ ...reasons, [l.assignment_id]: e.target.value })} />{' '}
                    <button className="button secondary" onClick={() => onDecide(l.assignment_id, 'accept', reasons[l.assignment_id] ?? '')}>Accept</button>{' '}
                    <button className="button secondary" disabled={!(reasons[l.assignment_id] ?? '').trim()}
                      onClick={() => onDecide(l.assignment_id, 'reject', reasons[l.assignment_id] ?? '')}>Reject</button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  )
}

/** Agreement with CIs (overall, per week, per category), labelers and their signals, and the review queue. */
export function QualityPage() {
  const id = Number(useParams().id)
  const { campaign, setCampaign, error: loadError } = useCampaign(id)
  const [report, setReport] = useState<AgreementReport | null>(null)
  const [labelers, setLabelers] = useState<LabelerSignals[] | null>(null)
  const [state, setState] = useState<AsOf | null>(null)
  const [queue, setQueue] = useState<{ count: number; items: ReviewItem[] } | null>(null)
  const [signal, setSignal] = useState<Signal | ''>('')
  const [error, setError] = useState<string | null>(null)
  const fail = (e: Error) => setError(e.message)

  const loadQueue = useCallback(() => {
    qualityApi.reviewQueue(id, { signal }).then(setQueue).catch(fail)
  }, [id, signal])
  // Reports are stored (server-side) and shown "as of" their computation. While none exists yet (a large
  // campaign's first) or after "Recompute now" until a newer one is stored, the page asks again every 5 s.
  const [tick, setTick] = useState(0)
  const [waitingFor, setWaitingFor] = useState<string | null | undefined>(undefined)
  useEffect(() => {
    let again: number | undefined
    qualityApi.agreement(id).then((r) => {
      setState(r)
      if (isComputed(r)) setReport(r)
      const waiting = !isComputed(r) || (waitingFor !== undefined && r.as_of === waitingFor)
      if (waiting) again = window.setTimeout(() => setTick((t) => t + 1), 5000)
      else setWaitingFor(undefined)
    }).catch(fail)
    qualityApi.labelers(id).then((r) => { if (isComputed(r)) setLabelers(r.labelers) }).catch(fail)
    return () => window.clearTimeout(again)
  }, [id, tick, waitingFor])
  const recompute = () => {
    qualityApi.refresh(id).then((status) => {
      if (status === 202) setWaitingFor(state?.as_of ?? null)
      else setTick((t) => t + 1)
    }).catch(fail)
  }
  useEffect(loadQueue, [loadQueue])

  const decide = (assignmentId: number, decision: 'accept' | 'reject', reason: string) => {
    qualityApi.review(assignmentId, decision, reason, signal).then(loadQueue).catch(fail)
  }

  if (loadError) return <p className="error" role="alert">Could not load the campaign: {loadError}</p>
  if (!campaign) return <p role="status">Loading…</p>
  return (
    <div className="admin">
      <CampaignTabs campaign={campaign} onChange={setCampaign} />
      {error && <p className="error" role="alert">{error}</p>}
      <section className="panel" aria-labelledby="agreement-title">
        <h2 id="agreement-title">Agreement (95 % intervals over tasks)</h2>
        {state && (
          <p className="muted small">
            {state.as_of ? `As of ${new Date(state.as_of).toLocaleString()}` : 'Being computed by a worker…'}
            {state.as_of && state.stale && ' · labels arrived since; an update is on its way'}{' '}
            <button type="button" className="link" onClick={recompute}>Recompute now</button>
          </p>
        )}
        {!report ? <p role="status">Loading…</p> : <FigureTable figures={report.overall} caption="Whole campaign" />}
        {report && report.by_week.length > 0 && (
          <>
            <h3>Pairwise agreement by week</h3>
            <table className="table compact">
              <caption className="sr-only">Pairwise agreement per week</caption>
              <tbody>
                {report.by_week.map((w) => <CiRow key={w.week} label={`week of ${w.week}`} f={w.pairwise_agreement} />)}
              </tbody>
            </table>
            <h3>Pairwise agreement by category</h3>
            <table className="table compact">
              <caption className="sr-only">Pairwise agreement per prompt category</caption>
              <tbody>
                {report.by_category.map((c) => <CiRow key={c.category} label={c.category} f={c.pairwise_agreement} />)}
              </tbody>
            </table>
          </>
        )}
      </section>
      <section className="panel" aria-labelledby="labelers-title">
        <h2 id="labelers-title">Labelers</h2>
        {!labelers ? <p role="status">Loading…</p> : (
          <table className="table compact">
            <thead>
              <tr><th>Labeler</th><th className="num">Labels</th><th>Signals raised</th><th>τ-b vs consensus</th></tr>
            </thead>
            <tbody>
              {labelers.map((l) => (
                <tr key={l.labeler_id}>
                  <td>{l.username}</td>
                  <td className="num">{l.labels}</td>
                  <td>{l.flags.length ? l.flags.join(', ') : '—'}</td>
                  <td className="small">{describe(l.signals.low_agreement.kendall_tau_b as Figure)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="panel" aria-labelledby="review-title">
        <div className="panel-head">
          <h2 id="review-title">Review queue {queue ? `(${queue.count} tasks)` : ''}</h2>
          <label>
            Signal{' '}
            <select value={signal} onChange={(e) => setSignal(e.target.value as Signal | '')}>
              <option value="">any</option>
              {SIGNALS.map((s) => <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>)}
            </select>
          </label>
        </div>
        {queue?.items.map((item) => <ReviewCard key={item.task_id} item={item} onDecide={decide} />)}
        {queue && !queue.items.length && <p className="muted">Nothing to review.</p>}
      </section>
    </div>
  )
}
