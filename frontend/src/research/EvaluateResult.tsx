import { formatNumber } from '../components/lineChart'
import { evaluateSummary, percent, verdict } from './format'

const VERDICT = {
  yes: 'Yes: the new policy wins',
  no: 'No: the new policy loses',
  even: 'Even: neither policy wins',
}

/** "Does the new policy win?": an evaluate job's win rate (or a reward model's pairwise accuracy), big. */
export function EvaluateResult({ result }: { result: Record<string, unknown> }) {
  const s = evaluateSummary(result)
  if (!s) return null
  if (s.mode === 'winrate') {
    const v = verdict(s.value)
    return (
      <section className={`panel headline-result verdict-${v}`} aria-labelledby="winrate-title">
        <h2 id="winrate-title">Does the new policy win?</h2>
        <p className="headline-number">{percent(s.value, 1)}</p>
        <p className="headline-verdict">{VERDICT[v]}</p>
        <p className="small">
          Win rate of policy B over policy A{s.prompts !== null ? ` on ${s.prompts} prompts` : ''}, judged by the reward model (ties count half).
          {s.meanA !== null && s.meanB !== null && ` Mean reward: A ${formatNumber(s.meanA)}, B ${formatNumber(s.meanB)}.`}
        </p>
        {(s.policyA || s.policyB) && (
          <dl className="facts small">
            <dt>A (baseline)</dt>
            <dd className="path">{s.policyA || '—'}</dd>
            <dt>B (candidate)</dt>
            <dd className="path">{s.policyB || '—'}</dd>
          </dl>
        )}
      </section>
    )
  }
  return (
    <section className="panel headline-result" aria-labelledby="accuracy-title">
      <h2 id="accuracy-title">Reward model pairwise accuracy</h2>
      <p className="headline-number">{percent(s.value, 1)}</p>
      <p className="small">
        of {s.pairs ?? '?'} labelled (winner, loser) pairs{s.rows !== null ? ` from ${s.rows} rankings` : ''} ordered correctly (chance is 50 %).
      </p>
    </section>
  )
}
