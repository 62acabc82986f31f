/**
 * What a PPO run logs besides numbers: `samples` (a few prompt/response/reward triples, untrusted text)
 * and `warning` (e.g. "reward collapsed"). Read defensively: a row is whatever the trainer wrote.
 */
import type { MetricRow } from './researchApi'

export interface Sample {
  step: number | null
  prompt: string
  response: string
  reward: number | null
}

const step = (row: MetricRow) => (typeof row.step === 'number' ? row.step : null)

/** Up to `n` samples of the newest row that has any (older rows' samples are stale). */
export function latestSamples(rows: MetricRow[], n = 3): Sample[] {
  for (let i = rows.length - 1; i >= 0; i--) {
    const raw = rows[i].samples
    if (!Array.isArray(raw) || raw.length === 0) continue
    return raw
      .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object')
      .slice(0, n)
      .map((x) => ({
        step: step(rows[i]),
        prompt: typeof x.prompt === 'string' ? x.prompt : JSON.stringify(x.prompt ?? ''),
        response: typeof x.response === 'string' ? x.response : JSON.stringify(x.response ?? ''),
        reward: typeof x.reward === 'number' && Number.isFinite(x.reward) ? x.reward : null,
      }))
  }
  return []
}

export interface MetricWarning {
  step: number | null
  text: string
}

/** The newest `n` distinct warnings, newest first, each with the step it was last seen at. */
export function metricWarnings(rows: MetricRow[], n = 3): MetricWarning[] {
  const seen = new Set<string>()
  const out: MetricWarning[] = []
  for (let i = rows.length - 1; i >= 0 && out.length < n; i--) {
    const w = rows[i].warning
    if (typeof w !== 'string' || !w.trim() || seen.has(w)) continue
    seen.add(w)
    out.push({ step: step(rows[i]), text: w })
  }
  return out
}
