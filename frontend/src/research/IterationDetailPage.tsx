import { useEffect, useState } from 'react'
import { Link, useParams } from 'react-router-dom'
import { api } from '../api'
import { Dialog } from '../components/Dialog'
import { countsText, dateText, durationText, intervalText, percent, runSeconds, verdict, VERDICT_TEXT } from './format'
import { errorText, usePoll, useRegistry, useResource } from './hooks'
import { canResume, iterationLive, stageMetricText, stageProgress } from './iterationForm'
import { type Iteration, type ModelRef, researchApi } from './researchApi'
import { ErrorAlert, JobProgress, ResearchTabs, StatusBadge } from './widgets'

/** Cancel (after a confirmation) while running; resume from the failed or cancelled stage. */
function IterationActions({ it, onChange }: { it: Iteration; onChange: (it: Iteration) => void }) {
  const [confirm, setConfirm] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  async function act(action: () => Promise<Iteration>) {
    setBusy(true)
    setError(null)
    try {
      onChange(await action())
      setConfirm(false)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <span className="head-actions">
      <StatusBadge status={it.status} />
      {iterationLive(it) && (
        <button type="button" className="button danger" onClick={() => setConfirm(true)}>
          Cancel iteration
        </button>
      )}
      {canResume(it) && (
        <button type="button" className="button primary" disabled={busy} onClick={() => void act(() => researchApi.resumeIteration(it.id))}>
          {busy ? 'Resuming…' : 'Resume'}
        </button>
      )}
      {error && !confirm && <ErrorAlert error={error} />}
      <Dialog open={confirm} onClose={() => setConfirm(false)} title={`Cancel iteration #${it.id}?`} className="narrow-dialog">
        <p>The running stage's job is cancelled and no later stage starts. You can resume it later from that stage.</p>
        <ErrorAlert error={error} />
        <div className="row-end">
          <button type="button" className="button secondary" onClick={() => setConfirm(false)}>
            Keep it running
          </button>
          <button type="button" className="button danger-solid" disabled={busy} onClick={() => void act(() => researchApi.cancelIteration(it.id))}>
            {busy ? 'Cancelling…' : 'Yes, cancel the iteration'}
          </button>
        </div>
      </Dialog>
    </span>
  )
}

function StageTable({ it }: { it: Iteration }) {
  const now = Date.now()
  return (
    <section className="panel" aria-labelledby="stages-title">
      <h2 id="stages-title">Stages</h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Stage</th>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
            <th scope="col">Key metric</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {it.stages.map((st) => (
            <tr key={st.name} className={st.name === it.current_stage ? 'target' : undefined}>
              <th scope="row">{st.name}</th>
              <td>{st.job !== null ? <Link to={`/research/jobs/${st.job}`}>Job #{st.job}</Link> : <span className="muted">—</span>}</td>
              <td>
                <StatusBadge status={st.status} />
              </td>
              <td className="nowrap">{durationText(runSeconds(st, now))}</td>
              <td className="small">{stageMetricText(st.metric)}</td>
              <td className="small stage-error">{st.error || <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

/** The win rate of this round's policy over its parent, with its interval; "not yet" until evaluated. */
function WinRateCard({ it, name }: { it: Iteration; name: (id: number | null) => string }) {
  const w = it.win_rate
  if (!w) {
    return (
      <section className="panel" aria-labelledby="iter-winrate-title">
        <h2 id="iter-winrate-title">Win rate over the parent</h2>
        <p className="muted">Not evaluated yet: the evaluate stage measures it.</p>
      </section>
    )
  }
  const ci = w.ci_low !== null && w.ci_high !== null ? { low: w.ci_low, high: w.ci_high, method: '' } : null
  const counts = { winsB: w.wins_b ?? null, winsA: w.wins_a ?? null, ties: w.ties ?? null, identical: w.identical ?? null, pairs: w.n_pairs ?? null }
  const v = verdict(w.value, { interval: ci, identical: counts.identical, pairs: counts.pairs })
  return (
    <section className={`panel headline-result verdict-${v}`} aria-labelledby="iter-winrate-title">
      <h2 id="iter-winrate-title">Win rate over the parent</h2>
      <p className="headline-number">{percent(w.value, 1)}</p>
      <p className="headline-verdict">{VERDICT_TEXT[v]}</p>
      <p className="small">
        {it.policy_model?.name ?? 'The new policy'} against {name(w.against ?? it.base_model.id)}
        {ci && `, interval ${intervalText(ci)}`}.
      </p>
      {countsText(counts) && <p className="small">{countsText(counts)}</p>}
    </section>
  )
}

function ModelLink({ m }: { m: ModelRef | null }) {
  return m ? <Link to={`/research/models#model-${m.id}`}>{m.name}</Link> : <span className="muted">not yet</span>
}

/** One iteration: its stages (job, status, time, key metric, error), models, snapshots and win rate; polls while running. */
export function IterationDetailPage() {
  const id = Number(useParams().id)
  const { data: it, error, reload, setData } = useResource(() => researchApi.iteration(id), [id])
  const registry = useRegistry()
  const campaigns = useResource(() => api.campaigns(), [])
  usePoll(reload, !!it && iterationLive(it), 2000)
  // The export stage makes snapshots the registry list (loaded once) has not seen: fetch it again, once per change.
  const snapshotIds = Object.values(it?.snapshots ?? {}).filter((x): x is number => x !== null)
  const unseen = registry.snapshots.data ? snapshotIds.filter((x) => !registry.snapshotById.has(x)).join(',') : ''
  useEffect(() => {
    if (unseen) void registry.snapshots.reload()
  }, [unseen])
  const modelName = (mid: number | null) => (mid === null ? '—' : (registry.modelById.get(mid)?.name ?? (it?.base_model.id === mid ? it.base_model.name : `model #${mid}`)))
  const campaignName = (cid: number) => campaigns.data?.find((c) => c.id === cid)?.name ?? `campaign #${cid}`

  if (!it) {
    return (
      <div className="research">
        <ResearchTabs title={`Iteration #${id}`} />
        {error ? <ErrorAlert error={`Could not load iteration #${id}: ${error}`} /> : <p role="status">Loading…</p>}
      </div>
    )
  }
  const p = stageProgress(it)
  return (
    <div className="research">
      <ResearchTabs title={it.name ? `Iteration ${it.name}` : `Iteration #${it.id}`}>
        <IterationActions it={it} onChange={setData} />
      </ResearchTabs>
      {error && <ErrorAlert error={`Could not refresh: ${error}`} />}
      {it.error && (
        <section className="error-box job-error" aria-labelledby="iter-error-title">
          <h2 id="iter-error-title">Error</h2>
          <pre>{it.error}</pre>
        </section>
      )}
      <p className="small" aria-live="polite">
        <JobProgress value={p.total ? p.done / p.total : 0} label="Stages done" /> {p.text}
        {iterationLive(it) && <span className="muted"> · refreshing every 2 s</span>}
      </p>
      <StageTable it={it} />
      <div className="detail-grid">
        <WinRateCard it={it} name={modelName} />
        <section className="panel" aria-labelledby="lineage-title">
          <h2 id="lineage-title">Round</h2>
          <dl className="facts">
            <dt>Method</dt>
            <dd>{it.method}</dd>
            <dt>Starts from</dt>
            <dd>
              <ModelLink m={it.base_model} />
            </dd>
            <dt>SFT model</dt>
            <dd>
              <ModelLink m={it.sft_model} />
            </dd>
            <dt>Reward model</dt>
            <dd>
              <ModelLink m={it.reward_model} />
            </dd>
            <dt>Policy</dt>
            <dd>
              <ModelLink m={it.policy_model} />
            </dd>
            <dt>Snapshots</dt>
            <dd>
              {Object.entries(it.snapshots).map(([kind, sid]) =>
                sid === null ? null : (
                  <div key={kind}>
                    <Link to={`/research/snapshots#snapshot-${sid}`}>{registry.snapshotById.get(sid)?.name ?? `snapshot #${sid}`}</Link> <span className="badge">{kind}</span>
                  </div>
                ),
              )}
              {Object.values(it.snapshots).every((x) => x === null) && <span className="muted">not exported yet</span>}
            </dd>
            <dt>Learns from</dt>
            <dd>{it.source_campaigns.map(campaignName).join(', ') || '—'}</dd>
            <dt>New tasks in</dt>
            <dd>{it.target_campaign !== null ? campaignName(it.target_campaign) : <span className="muted">none</span>}</dd>
            <dt>Created</dt>
            <dd>
              {dateText(it.created_at)}
              {it.created_by && ` by ${it.created_by}`}
            </dd>
            <dt>Finished</dt>
            <dd>{dateText(it.finished_at)}</dd>
          </dl>
        </section>
      </div>
    </div>
  )
}
