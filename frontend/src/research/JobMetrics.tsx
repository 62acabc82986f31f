import { LineChart } from '../components/LineChart'
import { formatNumber } from '../components/lineChart'
import { UntrustedText } from '../components/UntrustedText'
import { metricSeries } from './format'
import { latestSamples, metricWarnings } from './metricRows'
import type { MetricRow } from './researchApi'

/**
 * The trainer's warnings (as alerts), one small line chart per numeric metric (loss first, then reward,
 * held-out reward, KL, entropy, response length…), and PPO's latest samples as untrusted text.
 */
export function JobMetrics({ rows }: { rows: MetricRow[] }) {
  const series = metricSeries(rows)
  const warnings = metricWarnings(rows)
  const samples = latestSamples(rows)
  return (
    <section className="panel" aria-labelledby="metrics-title">
      <h2 id="metrics-title">Metrics per step</h2>
      {warnings.map((w) => (
        <p key={w.text} className="warning" role="alert">
          <strong>Training warning{w.step !== null ? ` (step ${w.step})` : ''}:</strong> {w.text}
        </p>
      ))}
      {series.length === 0 ? (
        <p className="muted">No metrics logged yet.</p>
      ) : (
        <div className="chart-grid">
          {series.map((s) => (
            <LineChart key={s.key} title={s.key} points={s.points} />
          ))}
        </div>
      )}
      {samples.length > 0 && (
        <section aria-labelledby="samples-title" className="samples">
          <h3 id="samples-title">
            Latest samples{samples[0].step !== null ? ` (step ${samples[0].step})` : ''}{' '}
            <span className="muted small">model output, shown as plain text</span>
          </h3>
          <ol className="sample-list">
            {samples.map((x, i) => (
              <li key={i} className="sample">
                <div className="sample-part">
                  <span className="sample-label">Prompt</span>
                  <UntrustedText text={x.prompt} />
                </div>
                <div className="sample-part">
                  <span className="sample-label">Response{x.reward !== null ? ` · reward ${formatNumber(x.reward)}` : ''}</span>
                  <UntrustedText text={x.response} />
                </div>
              </li>
            ))}
          </ol>
        </section>
      )}
    </section>
  )
}
