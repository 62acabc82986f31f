/**
 * Pure helpers for the research screens: short labels, ages, the metric series to plot, and the
 * numbers that answer "does the new policy win?" (result keys of `python -m training evaluate`).
 */
import { finitePoints, formatNumber, type Point } from '../components/lineChart'
import type { MetricRow } from './researchApi'

export function shortSha(sha: string, n = 12): string {
  return sha ? sha.slice(0, n) : '—'
}

/** {"train": 90, "valid": 10} → "train 90 · valid 10" (train first). */
export function splitText(split: Record<string, number> | null | undefined): string {
  const entries = Object.entries(split ?? {}).sort(([a], [b]) => (a === 'train' ? -1 : b === 'train' ? 1 : a.localeCompare(b)))
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(' · ') : '—'
}

/** Whole seconds from `iso` to `now` (never negative); null for a missing or bad date. */
export function ageSeconds(iso: string | null | undefined, now: number): number | null {
  if (!iso) return null
  const t = Date.parse(iso)
  return Number.isFinite(t) ? Math.max(0, Math.round((now - t) / 1000)) : null
}

/** 42 → "42 s ago", 125 → "2 min ago", 7300 → "2 h ago", 200000 → "2 d ago". */
export function ageText(seconds: number | null): string {
  if (seconds === null) return 'never'
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86400)} d ago`
}

export function dateText(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
}

export function percent(v: number, digits = 0): string {
  return `${(100 * v).toFixed(digits)} %`
}

// ---- metrics plots --------------------------------------------------------------------------------

/** Bookkeeping columns of a metrics row: not plotted (step is the x axis). */
const NOT_PLOTTED = new Set(['step', 'progress', 'elapsed_s', 'time', 'epoch', 'peak_memory_bytes'])
/** Plot order: loss first, then what researchers look at most; anything else alphabetically after. */
const PREFERRED = ['loss', 'reward', 'reward_mean', 'score', 'kl', 'accuracy', 'train_acc', 'eval_loss', 'lr']

export interface Series {
  key: string
  points: Point[]
}

/** One series per numeric key that has at least one finite value; x = `step` (or the row index). */
export function metricSeries(rows: MetricRow[]): Series[] {
  const keys = new Set<string>()
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) if (!NOT_PLOTTED.has(k) && typeof v === 'number' && Number.isFinite(v)) keys.add(k)
  }
  const rank = (k: string) => {
    const i = PREFERRED.indexOf(k)
    return i >= 0 ? i : k === 'tokens_per_s' ? 1000 : PREFERRED.length
  }
  return [...keys]
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((key) => ({
      key,
      points: finitePoints(rows.map((r, i) => ({ x: typeof r.step === 'number' ? r.step : i, y: r[key] }))),
    }))
    .filter((s) => s.points.length > 0)
}

// ---- "does the new policy win?" ------------------------------------------------------------------

export type EvaluateSummary =
  | { mode: 'winrate'; value: number; prompts: number | null; meanA: number | null; meanB: number | null; policyA: string; policyB: string }
  | { mode: 'accuracy'; value: number; pairs: number | null; rows: number | null }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/**
 * The headline of an evaluate job's result. The runner stores `{"result": <result.json>}`; evaluate
 * writes `{mode: "winrate", win_rate_b_over_a, prompts, mean_reward_a, mean_reward_b, policy_a, policy_b}`
 * or `{mode: "accuracy", accuracy, pairs, rows}` (training/evaluate.py). Both nestings are accepted.
 */
export function evaluateSummary(result: Record<string, unknown> | null | undefined): EvaluateSummary | null {
  if (!result || typeof result !== 'object') return null
  const inner = result.result
  const r = inner && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : result
  const win = num(r.win_rate_b_over_a) ?? num(r.win_rate)
  if (win !== null) {
    return {
      mode: 'winrate',
      value: win,
      prompts: num(r.prompts),
      meanA: num(r.mean_reward_a),
      meanB: num(r.mean_reward_b),
      policyA: str(r.policy_a),
      policyB: str(r.policy_b),
    }
  }
  const acc = num(r.accuracy) ?? num(r.pairwise_accuracy)
  if (acc !== null) return { mode: 'accuracy', value: acc, pairs: num(r.pairs), rows: num(r.rows) }
  return null
}

/** "Yes", "No" or "Even" for a win rate of B over A (ties count half, so 0.5 is a draw). */
export function verdict(winRate: number): 'yes' | 'no' | 'even' {
  if (Math.abs(winRate - 0.5) < 1e-9) return 'even'
  return winRate > 0.5 ? 'yes' : 'no'
}

// ---- model metrics --------------------------------------------------------------------------------

/** Keys that answer "is it better?": shown first and highlighted. */
export const HEADLINE = /win_rate|accuracy|reward_mean_last/

/**
 * The numeric metrics of a model, flattened (`{final: {loss}, summary: {valid_pairwise_accuracy}}` →
 * [["valid_pairwise_accuracy", 0.7], ["loss", 0.4]]): headline keys first, then loss, then the rest;
 * `summary` wins over `final` when both have a key. Bookkeeping (step, time, …) is left out.
 */
export function modelMetrics(metrics: Record<string, unknown> | null | undefined): [string, number][] {
  const out = new Map<string, number>()
  const visit = (obj: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'number' && Number.isFinite(v) && !NOT_PLOTTED.has(k) && !out.has(k)) out.set(k, v)
    }
  }
  const m = metrics ?? {}
  for (const part of ['summary', 'final']) {
    const v = m[part]
    if (v && typeof v === 'object' && !Array.isArray(v)) visit(v as Record<string, unknown>)
  }
  visit(m)
  const rank = (k: string) => (HEADLINE.test(k) ? 0 : k === 'loss' || k === 'eval_loss' ? 1 : 2)
  return [...out.entries()].sort(([a], [b]) => rank(a) - rank(b))
}

/** Fractions shown as percentages (a win rate, an accuracy); everything else as a plain number. */
const FRACTION = /win_rate|accuracy/

export function metricText([k, v]: [string, number]): string {
  return `${k} ${FRACTION.test(k) && v >= 0 && v <= 1 ? percent(v, 1) : formatNumber(v)}`
}
