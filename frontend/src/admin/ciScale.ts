// Geometry and wording of a figure with its confidence interval, kept pure so it can be unit-tested.
import type { Figure } from './qualityApi'

/** Where a value sits on a [min, max] axis, in percent (clamped). */
export function position(value: number, min: number, max: number): number {
  return Math.min(100, Math.max(0, (100 * (value - min)) / (max - min)))
}

/** The bar of a CI (left edge and width in percent) and the value's marker; null without data. */
export function ciBar(f: Figure, min = -1, max = 1): { left: number; width: number; mark: number } | null {
  if (f.value === null) return null
  const lo = f.ci_low ?? f.value
  const hi = f.ci_high ?? f.value
  const left = position(lo, min, max)
  return { left, width: position(hi, min, max) - left, mark: position(f.value, min, max) }
}

/** "0.61 [0.55, 0.66] · 120 tasks, 4,320 items"; a figure without a CI says so, so 3 tasks never look like 3,000. */
export function describe(f: Figure): string {
  if (f.value === null) return 'no data'
  const n = `${f.n_tasks.toLocaleString('en')} task${f.n_tasks === 1 ? '' : 's'}, ${f.n_items.toLocaleString('en')} items`
  const ci = f.ci_low === null || f.ci_high === null ? 'no interval (too few tasks)' : `[${f.ci_low.toFixed(2)}, ${f.ci_high.toFixed(2)}]`
  return `${f.value.toFixed(2)} ${ci} · ${n}`
}
