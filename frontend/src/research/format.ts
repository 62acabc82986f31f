/**
 * Pure helpers for the research screens: short labels, ages, the metric series to plot, and the
 * numbers that answer "does the new policy win?" (result keys of `python -m training evaluate`).
 */
import { finitePoints, formatNumber, type Point } from '../components/lineChart'
import type { Estimate, MetricRow } from './researchApi'

export function shortSha(sha: string, n = 12): string {
  return sha ? sha.slice(0, n) : '—'
}

/** "max_steps" → "Max steps", "policy_a" → "Policy a". */
export function humanize(name: string): string {
  const t = name.replace(/_/g, ' ')
  return t.charAt(0).toUpperCase() + t.slice(1)
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
const PREFERRED = ['loss', 'reward', 'heldout_reward', 'kl', 'entropy', 'response_length', 'reward_mean', 'score', 'accuracy', 'train_acc', 'eval_loss', 'lr']

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

export interface Interval {
  low: number
  high: number
  method: string
}

export type EvaluateSummary =
  | {
      mode: 'winrate'
      value: number
      interval: Interval | null
      /** B won, A won, judged a tie, the two texts were identical; null where the result predates counts. */
      winsB: number | null
      winsA: number | null
      ties: number | null
      identical: number | null
      pairs: number | null
      tieRule: string
      judge: string
      split: string
    }
  | { mode: 'accuracy'; value: number; interval: Interval | null; pairs: number | null; split: string }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

function interval(r: Record<string, unknown>): Interval | null {
  const low = num(r.ci_low)
  const high = num(r.ci_high)
  return low !== null && high !== null ? { low, high, method: str(r.ci_method) } : null
}

/**
 * The headline of an evaluate job's result. The runner stores `{"result": <result.json>, "recorded": …}`;
 * evaluate writes `{win_rate_b_over_a, ci_low, ci_high, ci_method, tie_rule, wins_a, wins_b, ties,
 * identical, n_pairs, judge, split}` or `{accuracy, ci_low, ci_high, n_pairs, split}`. Both nestings are
 * accepted, and older results (`prompts`, `pairs` instead of `n_pairs`) still read.
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
      interval: interval(r),
      winsB: num(r.wins_b),
      winsA: num(r.wins_a),
      ties: num(r.ties),
      identical: num(r.identical),
      pairs: num(r.n_pairs) ?? num(r.prompts),
      tieRule: str(r.tie_rule),
      judge: str(r.judge),
      split: str(r.split),
    }
  }
  const acc = num(r.accuracy) ?? num(r.pairwise_accuracy)
  if (acc !== null) return { mode: 'accuracy', value: acc, interval: interval(r), pairs: num(r.n_pairs) ?? num(r.pairs), split: str(r.split) }
  return null
}

export type Verdict = 'yes' | 'no' | 'unclear' | 'even' | 'identical'

/**
 * Does B beat A? "identical" when every compared pair was the same text (the number says nothing);
 * with an interval, yes/no only when it lies wholly above/below 50 %, else "unclear"; without one,
 * the side of 50 % ("even" exactly at it).
 */
export function verdict(value: number, opts: { interval?: Interval | null; identical?: number | null; pairs?: number | null } = {}): Verdict {
  const { interval: ci, identical, pairs } = opts
  if (pairs && identical === pairs) return 'identical'
  if (ci) return ci.low > 0.5 ? 'yes' : ci.high < 0.5 ? 'no' : 'unclear'
  if (Math.abs(value - 0.5) < 1e-9) return 'even'
  return value > 0.5 ? 'yes' : 'no'
}

export const VERDICT_TEXT: Record<Verdict, string> = {
  yes: 'Yes: the new policy wins',
  no: 'No: the new policy loses',
  unclear: 'Not clear: the interval includes 50 %',
  even: 'Even: neither policy wins',
  identical: 'No evidence: every comparison was between identical texts',
}

/** "52.0–71.3 % (95 % wilson)" */
export function intervalText(ci: Interval | null): string {
  if (!ci) return ''
  return `${percent(ci.low, 1)} – ${percent(ci.high, 1)}${ci.method ? ` (${ci.method})` : ''}`
}

/** "B won 12 · A won 5 · ties 3 · identical 2 · of 22 pairs" (the parts that are known). */
export function countsText(s: { winsB: number | null; winsA: number | null; ties: number | null; identical: number | null; pairs: number | null }): string {
  const parts: string[] = []
  if (s.winsB !== null) parts.push(`B won ${s.winsB}`)
  if (s.winsA !== null) parts.push(`A won ${s.winsA}`)
  if (s.ties !== null) parts.push(`ties ${s.ties}`)
  if (s.identical !== null) parts.push(`identical ${s.identical}`)
  if (s.pairs !== null) parts.push(`of ${s.pairs} pairs`)
  return parts.join(' · ')
}

// ---- durations and estimates ---------------------------------------------------------------------

/** 42 → "42 s", 312 → "5 min 12 s", 3725 → "1 h 02 min", 90061 → "25 h 01 min"; null → "—". */
export function durationText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`
  const m = Math.round(s / 60)
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`
}

/** A job's (or stage's) run time: the server's `duration_s`, else started → finished (or now, while running). */
export function runSeconds(j: { duration_s?: number | null; started_at: string | null; finished_at: string | null }, now: number): number | null {
  if (typeof j.duration_s === 'number' && Number.isFinite(j.duration_s)) return j.duration_s
  if (!j.started_at) return null
  const start = Date.parse(j.started_at)
  const end = j.finished_at ? Date.parse(j.finished_at) : now
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null
}

/** A rough time for an estimate: "about 40 s", "about 5 min", "about 3.2 h". */
export function roughDuration(seconds: number): string {
  if (seconds < 90) return `about ${Math.max(10, Math.round(seconds / 10) * 10)} s`
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} min`
  return `about ${(seconds / 3600).toFixed(1)} h`
}

/** 134515008 → "135 M", 81920 → "81.9 k", 1600 → "1.6 k", 950 → "950". */
export function compactCount(n: number): string {
  const a = Math.abs(n)
  const short = (x: number) => String(Number(x.toPrecision(3))) // 1.60 → "1.6"
  if (a >= 1e9) return `${short(n / 1e9)} G`
  if (a >= 1e6) return `${short(n / 1e6)} M`
  if (a >= 1e3) return `${short(n / 1e3)} k`
  return String(n)
}

export interface EstimateView {
  headline: string
  facts: string[]
  basis: string
  warning: string | null
}

/** What the new-job form shows of `POST /jobs/estimate`: the time, what it is made of, and its warning. */
export function estimateView(e: Estimate): EstimateView {
  const facts: string[] = []
  const add = (v: number | null | undefined, unit: string) => {
    if (typeof v === 'number' && Number.isFinite(v)) facts.push(`${compactCount(v)} ${unit}`)
  }
  add(e.steps, 'steps')
  add(e.examples, 'examples')
  add(e.tokens, 'tokens')
  add(e.model_params, 'model parameters')
  return {
    headline: typeof e.seconds === 'number' && Number.isFinite(e.seconds) ? roughDuration(e.seconds) : 'no time estimate for this job',
    facts,
    basis: e.basis ?? '',
    warning: e.warning || null,
  }
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
