/**
 * The pure half of `LineChart`: scales, "nice" ticks, the SVG path and a text summary. No DOM, so it
 * is unit-tested in node.
 */

export interface Point {
  x: number
  y: number
}

export interface Box {
  width: number
  height: number
  margin: { top: number; right: number; bottom: number; left: number }
}

export interface Tick {
  value: number
  /** Position in SVG user units along the axis. */
  pos: number
  label: string
}

export interface ChartModel {
  path: string
  xTicks: Tick[]
  yTicks: Tick[]
  /** Plot area in SVG units. */
  plot: { x0: number; x1: number; y0: number; y1: number }
  /** The last point, in SVG units (a dot marks where the run is now). */
  last: { cx: number; cy: number } | null
}

/** Only the points whose x and y are finite numbers (a metric may be null or missing on some steps). */
export function finitePoints(points: { x: unknown; y: unknown }[]): Point[] {
  return points.filter((p): p is Point => typeof p.x === 'number' && typeof p.y === 'number' && Number.isFinite(p.x) && Number.isFinite(p.y))
}

/** [min, max] of the values; a flat series gets some room around it, an empty one [0, 1]. */
export function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite)
  if (!finite.length) return [0, 1]
  let lo = Math.min(...finite)
  let hi = Math.max(...finite)
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1
    lo -= pad
    hi += pad
  }
  return [lo, hi]
}

/** A step of 1, 2 or 5 × 10^n giving about `count` intervals over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const norm = raw / mag
  const nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10
  return nice * mag
}

/** Decimals needed to print multiples of a 1/2/5 × 10^n step exactly. */
function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step)))
}

/** Tick values at multiples of a nice step, from ≤ min to ≥ max (so the axis covers the data). */
export function niceTicks(min: number, max: number, count = 4): number[] {
  const step = niceStep(max - min, count)
  const start = Math.floor(min / step)
  const end = Math.ceil(max / step)
  const dec = Math.min(20, decimalsOf(step))
  const out: number[] = []
  for (let i = start; i <= end && out.length < 50; i++) out.push(Number((i * step).toFixed(dec)))
  return out
}

/** Maps [d0, d1] linearly onto [r0, r1]; a zero-width domain maps everything to the middle. */
export function scaleLinear([d0, d1]: [number, number], [r0, r1]: [number, number]): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2
  const k = (r1 - r0) / (d1 - d0)
  return (v) => r0 + (v - d0) * k
}

/** At most `max` points, evenly spaced, always keeping the first and the last. */
export function downsample<T>(points: T[], max: number): T[] {
  if (points.length <= max || max < 2) return points
  const out: T[] = []
  const stride = (points.length - 1) / (max - 1)
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * stride)])
  return out
}

const r1 = (v: number) => (Math.round(v * 10) / 10).toString()

/** "M x,y L x,y …" through the points (already finite), in SVG units rounded to 0.1. */
export function linePath(points: Point[], sx: (v: number) => number, sy: (v: number) => number): string {
  return points.map((p, i) => `${i ? 'L' : 'M'}${r1(sx(p.x))},${r1(sy(p.y))}`).join('')
}

/** Short, readable numbers for ticks and summaries: 0.00002 → "2e-5", 12345 → "12.3k", 0.4567 → "0.457". */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e6) return `${trim((v / 1e6).toPrecision(3))}M`
  if (a >= 1e4) return `${trim((v / 1e3).toPrecision(3))}k`
  if (a < 1e-3) {
    const [m, e] = v.toExponential(1).split('e')
    return `${trim(m)}e${Number(e)}`
  }
  return trim(a >= 100 ? v.toFixed(0) : v.toPrecision(3))
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

/** Everything the SVG needs, for points already filtered by `finitePoints`. */
export function chartModel(points: Point[], box: Box, maxPoints = 400): ChartModel {
  const { width, height, margin } = box
  const plot = { x0: margin.left, x1: width - margin.right, y0: height - margin.bottom, y1: margin.top }
  const [xMin, xMax] = extent(points.map((p) => p.x))
  const yRaw = extent(points.map((p) => p.y))
  const yValues = niceTicks(yRaw[0], yRaw[1], 4)
  const yDomain: [number, number] = [yValues[0], yValues[yValues.length - 1]]
  const sx = scaleLinear([xMin, xMax], [plot.x0, plot.x1])
  const sy = scaleLinear(yDomain, [plot.y0, plot.y1])
  const xTicks = niceTicks(xMin, xMax, 4)
    .filter((v) => v >= xMin && v <= xMax)
    .map((v) => ({ value: v, pos: sx(v), label: formatNumber(v) }))
  const yTicks = yValues.map((v) => ({ value: v, pos: sy(v), label: formatNumber(v) }))
  const drawn = downsample(points, maxPoints)
  const lastPoint = points[points.length - 1]
  return {
    path: drawn.length ? linePath(drawn, sx, sy) : '',
    xTicks,
    yTicks,
    plot,
    last: lastPoint ? { cx: sx(lastPoint.x), cy: sy(lastPoint.y) } : null,
  }
}

/** One sentence for screen readers: first/last value, min and max. */
export function describeSeries(name: string, xLabel: string, points: Point[]): string {
  if (!points.length) return `${name}: no data yet.`
  const first = points[0]
  const last = points[points.length - 1]
  const ys = points.map((p) => p.y)
  const lo = Math.min(...ys)
  const hi = Math.max(...ys)
  return (
    `${name}: ${points.length} point${points.length === 1 ? '' : 's'}, from ${formatNumber(first.y)} at ${xLabel} ${formatNumber(first.x)} ` +
    `to ${formatNumber(last.y)} at ${xLabel} ${formatNumber(last.x)}; lowest ${formatNumber(lo)}, highest ${formatNumber(hi)}.`
  )
}
