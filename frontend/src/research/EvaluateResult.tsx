import { countsText, evaluateSummary, intervalText, percent, verdict, VERDICT_TEXT } from './format'
import type { NamedInput } from './researchApi'

/**
 * "Does the new policy win?": an evaluate job's win rate with its interval and the counts behind it
 * (or a reward model's pairwise accuracy), big. Policies are named by their registry names.
 */
export function EvaluateResult({ result, inputs }: { result: Record<string, unknown>; inputs: Record<string, NamedInput> }) {
  const s = evaluateSummary(result)
  if (!s) return null
  if (s.mode === 'winrate') {
    const v = verdict(s.value, s)
    const a = inputs.policy_a?.name
    const b = inputs.policy_b?.name
    return (
      <section className={`panel headline-result verdict-${v}`} aria-labelledby="winrate-title">
        <h2 id="winrate-title">Does the new policy win?</h2>
        <p className="headline-number">{percent(s.value, 1)}</p>
        <p className="headline-verdict">{VERDICT_TEXT[v]}</p>
        <p className="small">
          Win rate of B over A{s.judge ? `, judged by ${s.judge}` : ''}
          {s.split ? ` on the ${s.split} split` : ''}
          {s.tieRule ? ` (${s.tieRule})` : ''}.
        </p>
        <dl className="facts small">
          {s.interval && (
            <>
              <dt>Interval</dt>
              <dd>{intervalText(s.interval)}</dd>
            </>
          )}
          <dt>Counts</dt>
          <dd>{countsText(s) || '—'}</dd>
          <dt>A (baseline)</dt>
          <dd>{a ?? '—'}</dd>
          <dt>B (candidate)</dt>
          <dd>{b ?? '—'}</dd>
        </dl>
      </section>
    )
  }
  return (
    <section className="panel headline-result" aria-labelledby="accuracy-title">
      <h2 id="accuracy-title">Reward model pairwise accuracy</h2>
      <p className="headline-number">{percent(s.value, 1)}</p>
      <p className="small">
        of {s.pairs ?? '?'} labelled (winner, loser) pairs{s.split ? ` of the ${s.split} split` : ''} ordered correctly (chance is 50 %).
        {s.interval && ` Interval ${intervalText(s.interval)}.`}
      </p>
    </section>
  )
}
