import { LineChart } from '../components/LineChart'
import { metricSeries } from './format'
import type { MetricRow } from './researchApi'

/** One small line chart per numeric metric the trainer logged (loss first), against the step. */
export function JobMetrics({ rows }: { rows: MetricRow[] }) {
  const series = metricSeries(rows)
  return (
    <section className="panel" aria-labelledby="metrics-title">
      <h2 id="metrics-title">Metrics per step</h2>
      {series.length === 0 ? (
        <p className="muted">No metrics logged yet.</p>
      ) : (
        <div className="chart-grid">
          {series.map((s) => (
            <LineChart key={s.key} title={s.key} points={s.points} />
          ))}
        </div>
      )}
    </section>
  )
}
