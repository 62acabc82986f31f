/**
 * The pure half of `ErrorBarChart`: one row per label, a dot at the estimate and a whisker over its
 * interval, on a fixed 0–1 win-rate axis with the 0.5 "no preference" line. No DOM, so it is
 * unit-tested in node.
 */
import { formatNumber } from '../components/lineChart'

export interface Interval {
  label: string
  /** The estimate (a win rate in [0, 1]); null when there are no comparisons yet. */
  value: number | null
  low: number | null
  high: number | null
  /** How many comparisons the estimate rests on. */
  n: number
}

export interface BarBox {
  width: number
  rowHeight: number
  margin: { top: number; right: number; bottom: number; left: number }
}

export interface BarRow {
  label: string
  y: number
  /** SVG x of the estimate and the whisker ends; null for a row without data. */
  cx: number | null
  x1: number | null
  x2: number | null
  text: string
}

export interface BarModel {
  height: number
  plot: { x0: number; x1: number; y0: number; y1: number }
  ticks: { value: number; pos: number; label: string }[]
  half: number
  rows: BarRow[]
}

const clamp = (v: number) => Math.min(1, Math.max(0, v))

/** "0.62 [0.55, 0.69], n=120", or "no comparisons yet". */
export function intervalText(i: Interval): string {
  if (i.value === null || i.low === null || i.high === null) return 'no comparisons yet'
  return `${formatNumber(i.value)} [${formatNumber(i.low)}, ${formatNumber(i.high)}], n=${i.n}`
}

export function barModel(items: Interval[], box: BarBox): BarModel {
  const { left, right, top, bottom } = box.margin
  const height = top + bottom + Math.max(1, items.length) * box.rowHeight
  const x0 = left
  const x1 = box.width - right
  const scale = (v: number) => x0 + clamp(v) * (x1 - x0)
  const rows = items.map((item, i) => {
    const y = top + (i + 0.5) * box.rowHeight
    const has = item.value !== null && item.low !== null && item.high !== null
    return {
      label: item.label,
      y,
      cx: has ? scale(item.value as number) : null,
      x1: has ? scale(item.low as number) : null,
      x2: has ? scale(item.high as number) : null,
      text: intervalText(item),
    }
  })
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((value) => ({ value, pos: scale(value), label: formatNumber(value) }))
  return { height, plot: { x0, x1, y0: height - bottom, y1: top }, ticks, half: scale(0.5), rows }
}

/** One sentence for screen readers: who leads, and whether the leader's interval clears 0.5. */
export function describeBars(title: string, items: Interval[]): string {
  const known = items.filter((i) => i.value !== null)
  if (!known.length) return `${title}: no comparisons yet.`
  const best = known.reduce((a, b) => ((b.value as number) > (a.value as number) ? b : a))
  const clear = best.low !== null && best.low > 0.5 ? 'above' : 'not clearly above'
  return `${title}: ${known.length} rows; highest ${best.label} at ${intervalText(best)}, ${clear} 0.5.`
}
