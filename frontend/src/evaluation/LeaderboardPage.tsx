import { useState } from 'react'
import { Link } from 'react-router-dom'
import { formatNumber } from '../components/lineChart'
import { useResource } from '../research/hooks'
import { ErrorAlert, ResearchTabs } from '../research/widgets'
import { ErrorBarChart } from './ErrorBarChart'
import type { Interval } from './errorBars'
import { evaluationApi, type LeaderboardRow, type Lineage, type PairRow, type RateRow } from './evaluationApi'
import './evaluation.css'

const interval = (label: string, r: RateRow | undefined): Interval => ({
  label,
  value: r?.win_rate ?? null,
  low: r?.low ?? null,
  high: r?.high ?? null,
  n: r?.comparisons ?? 0,
})

const rate = (v: number | null, low: number | null, high: number | null) =>
  v === null || low === null || high === null ? '—' : `${formatNumber(v)} [${formatNumber(low)}, ${formatNumber(high)}]`

function LineageCell({ lineage }: { lineage: Lineage }) {
  return (
    <span className="lineage">
      <span>{lineage.kind}</span>
      {lineage.parent && (
        <span>
          from <Link to={`/research/models#model-${lineage.parent.id}`}>{lineage.parent.name}</Link>
        </span>
      )}
      {lineage.iteration && <span>iteration {lineage.iteration.name}</span>}
      {lineage.reward_model && <span>RM {lineage.reward_model.name}</span>}
      {lineage.snapshots.map((s) => (
        <span key={s.id} className="muted">
          {s.kind}: {s.name}
        </span>
      ))}
      {lineage.job && <Link to={`/research/jobs/${lineage.job}`}>job {lineage.job}</Link>}
    </span>
  )
}

function PairsTable({ pairs, names }: { pairs: PairRow[]; names: Map<number, string> }) {
  return (
    <table className="table">
      <caption>Every pair: human win rate of A over B beside the reward model's on the same texts</caption>
      <thead>
        <tr>
          <th scope="col">A vs B</th>
          <th scope="col">comparisons (A / B / ties)</th>
          <th scope="col">human: A wins</th>
          <th scope="col">reward model: A wins</th>
          <th scope="col">disagree</th>
          <th scope="col">separated?</th>
        </tr>
      </thead>
      <tbody>
        {pairs.map((p) => (
          <tr key={`${p.a}-${p.b}`}>
            <th scope="row">
              {names.get(p.a)} vs {names.get(p.b)}
            </th>
            <td>
              {p.comparisons} ({p.wins_a} / {p.wins_b} / {p.ties}){p.identical ? `, ${p.identical} identical` : ''}
            </td>
            <td>{rate(p.win_rate_a, p.low, p.high)}</td>
            <td>{p.judge ? rate(p.judge.win_rate_a, p.judge.low, p.judge.high) : '—'}</td>
            <td>{p.judge ? formatNumber(p.judge.disagreement) : '—'}</td>
            <td>
              {p.separated
                ? 'yes'
                : p.more_comparisons_needed === null
                  ? 'no (a dead heat)'
                  : `no: ~${p.more_comparisons_needed} more comparisons`}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function PolicyTable({ rows }: { rows: LeaderboardRow[] }) {
  return (
    <table className="table">
      <caption>Policies by human preference (Bradley–Terry)</caption>
      <thead>
        <tr>
          <th scope="col">rank</th>
          <th scope="col">policy</th>
          <th scope="col">strength [95 % bootstrap]</th>
          <th scope="col">win rate vs the others</th>
          <th scope="col">lineage</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.policy}>
            <td>{r.rank_low === r.rank_high ? r.rank : `${r.rank} (${r.rank_low}–${r.rank_high})`}</td>
            <th scope="row">
              <Link to={`/research/models#model-${r.policy}`}>{r.name}</Link>
            </th>
            <td>{`${r.strength.toFixed(2)} [${r.low.toFixed(2)}, ${r.high.toFixed(2)}]`}</td>
            <td>
              {rate(r.win_rate.win_rate, r.win_rate.low, r.win_rate.high)}{' '}
              <span className="muted small">n={r.win_rate.comparisons}</span>
            </td>
            <td>
              <LineageCell lineage={r.lineage} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** The leaderboard: policies by blind human preference, with error bars per policy and per prompt category. */
export function LeaderboardPage() {
  const [evaluationId, setEvaluationId] = useState<number | null>(null)
  const { data: evaluations } = useResource(() => evaluationApi.evaluations(), [])
  const { data, error } = useResource(() => evaluationApi.leaderboard(evaluationId), [evaluationId])
  const names = new Map((data?.policies ?? []).map((p) => [p.policy, p.name]))
  const categories = [...new Set((data?.policies ?? []).flatMap((p) => Object.keys(p.categories)))].sort()
  return (
    <section className="research leaderboard">
      <ResearchTabs title="Leaderboard" />
      <label className="field evaluation-pick">
        <span>Evaluation</span>
        <select
          value={evaluationId ?? ''}
          onChange={(e) => setEvaluationId(e.target.value === '' ? null : Number(e.target.value))}
        >
          <option value="">All evaluations (pooled)</option>
          {(evaluations ?? []).map((ev) => (
            <option key={ev.id} value={ev.id} disabled={ev.status !== 'labeling'}>
              {ev.name} ({ev.status}, {ev.policies.length} policies)
            </option>
          ))}
        </select>
      </label>
      <ErrorAlert error={error} />
      {data && !data.policies.length && (
        <p>No human comparisons yet. Create an evaluation (POST /api/v1/evaluations) and let labelers judge it.</p>
      )}
      {data && data.policies.length > 0 && (
        <>
          <p className="muted">
            {data.comparisons} blind comparisons from {data.evaluations.length} evaluation(s). {data.ties_rule}
            {data.judge_disagreement !== null &&
              ` The reward model disagrees with the labelers on ${formatNumber(data.judge_disagreement)} of them.`}
          </p>
          <PolicyTable rows={data.policies} />
          <div className="chart-grid evaluation-charts">
            <ErrorBarChart
              title="Win rate vs the other policies"
              items={data.policies.map((p) => interval(p.name, p.win_rate))}
            />
            {categories.map((c) => (
              <ErrorBarChart
                key={c}
                title={`Category: ${c}`}
                items={data.policies.map((p) => interval(p.name, p.categories[c]))}
              />
            ))}
          </div>
          <PairsTable pairs={data.pairs} names={names} />
        </>
      )}
    </section>
  )
}
