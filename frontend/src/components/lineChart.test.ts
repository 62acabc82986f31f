import { describe, expect, it } from 'vitest'
import { chartModel, describeSeries, downsample, extent, finitePoints, formatNumber, linePath, niceStep, niceTicks, scaleLinear } from './lineChart'

const BOX = { width: 200, height: 100, margin: { top: 10, right: 10, bottom: 20, left: 30 } }

describe('line chart scaling', () => {
  it('keeps only finite numeric points', () => {
    expect(finitePoints([{ x: 1, y: 2 }, { x: 2, y: null }, { x: 3, y: NaN }, { x: '4', y: 1 }, { x: 5, y: Infinity }, { x: 6, y: 0 }])).toEqual([
      { x: 1, y: 2 },
      { x: 6, y: 0 },
    ])
  })

  it('pads a flat or empty extent so the scale never divides by zero', () => {
    expect(extent([3, 1, 2])).toEqual([1, 3])
    expect(extent([])).toEqual([0, 1])
    expect(extent([5, 5])).toEqual([4.5, 5.5])
    expect(extent([0])).toEqual([-1, 1])
  })

  it('picks 1/2/5 × 10^n steps and ticks that cover the data', () => {
    expect(niceStep(10, 5)).toBe(2)
    expect(niceStep(1, 4)).toBe(0.2)
    expect(niceStep(0.00007, 4)).toBeCloseTo(0.00002, 12)
    expect(niceTicks(0.13, 2.31, 4)).toEqual([0, 0.5, 1, 1.5, 2, 2.5])
    expect(niceTicks(-3, 7, 5)).toEqual([-4, -2, 0, 2, 4, 6, 8])
    // no floating-point noise such as 0.30000000000000004
    expect(niceTicks(0.1, 0.5, 4)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5])
    const t = niceTicks(1e-5, 5e-5, 4)
    expect(t[0]).toBeLessThanOrEqual(1e-5)
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(5e-5)
  })

  it('maps linearly, inverting y for SVG, and centres a zero-width domain', () => {
    const sy = scaleLinear([0, 10], [90, 10])
    expect([sy(0), sy(5), sy(10)]).toEqual([90, 50, 10])
    expect(scaleLinear([2, 2], [0, 100])(7)).toBe(50)
  })

  it('draws an M…L path rounded to 0.1', () => {
    const sx = scaleLinear([0, 2], [0, 100])
    const sy = scaleLinear([0, 1], [50, 0])
    expect(linePath([{ x: 0, y: 0 }, { x: 1, y: 1 / 3 }, { x: 2, y: 1 }], sx, sy)).toBe('M0,50L50,33.3L100,0')
  })

  it('downsamples evenly and keeps both ends', () => {
    const pts = Array.from({ length: 1001 }, (_, i) => i)
    const d = downsample(pts, 11)
    expect(d).toHaveLength(11)
    expect(d[0]).toBe(0)
    expect(d[10]).toBe(1000)
    expect(d[5]).toBe(500)
    expect(downsample([1, 2, 3], 10)).toEqual([1, 2, 3])
  })

  it('builds a model whose path stays inside the plot area and whose y axis is nice', () => {
    const pts = [
      { x: 1, y: 2.31 },
      { x: 50, y: 1.2 },
      { x: 100, y: 0.13 },
    ]
    const m = chartModel(pts, BOX)
    expect(m.plot).toEqual({ x0: 30, x1: 190, y0: 80, y1: 10 })
    expect(m.yTicks.map((t) => t.label)).toEqual(['0', '0.5', '1', '1.5', '2', '2.5'])
    expect(m.yTicks[0].pos).toBe(80)
    expect(m.yTicks[m.yTicks.length - 1].pos).toBe(10)
    expect(m.path.startsWith('M30,')).toBe(true)
    const coords = m.path.slice(1).split('L').map((p) => p.split(',').map(Number))
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThanOrEqual(30)
      expect(x).toBeLessThanOrEqual(190)
      expect(y).toBeGreaterThanOrEqual(10)
      expect(y).toBeLessThanOrEqual(80)
    }
    expect(m.last?.cx).toBe(190)
    expect(m.last?.cy).toBeCloseTo(coords[2][1], 0)
    expect(m.xTicks.every((t) => t.value >= 1 && t.value <= 100)).toBe(true)
  })

  it('copes with one point and with none', () => {
    const one = chartModel([{ x: 5, y: 0.7 }], BOX)
    expect(one.path).toMatch(/^M[\d.]+,[\d.]+$/)
    expect(one.last).not.toBeNull()
    const none = chartModel([], BOX)
    expect(none.path).toBe('')
    expect(none.last).toBeNull()
  })

  it('formats numbers compactly', () => {
    expect(formatNumber(0)).toBe('0')
    expect(formatNumber(0.00002)).toBe('2e-5')
    expect(formatNumber(0.000015)).toBe('1.5e-5')
    expect(formatNumber(0.4567)).toBe('0.457')
    expect(formatNumber(2.5)).toBe('2.5')
    expect(formatNumber(123.4)).toBe('123')
    expect(formatNumber(12345)).toBe('12.3k')
    expect(formatNumber(-2_500_000)).toBe('-2.5M')
  })

  it('summarises a series in one sentence', () => {
    expect(describeSeries('loss', 'step', [])).toBe('loss: no data yet.')
    expect(describeSeries('loss', 'step', [{ x: 1, y: 2 }, { x: 10, y: 0.5 }, { x: 20, y: 0.75 }])).toBe(
      'loss: 3 points, from 2 at step 1 to 0.75 at step 20; lowest 0.5, highest 2.',
    )
  })
})
