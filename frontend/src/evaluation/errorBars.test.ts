import { describe, expect, it } from 'vitest'
import { barModel, describeBars, intervalText, type Interval } from './errorBars'

const BOX = { width: 300, rowHeight: 20, margin: { top: 10, right: 10, bottom: 30, left: 90 } }

describe('barModel', () => {
  it('places the estimate and whiskers on a 0-1 axis with the 0.5 line in the middle', () => {
    const items: Interval[] = [
      { label: 'ppo', value: 0.75, low: 0.6, high: 0.9, n: 40 },
      { label: 'sft', value: null, low: null, high: null, n: 0 },
    ]
    const m = barModel(items, BOX)
    expect(m.height).toBe(10 + 30 + 2 * 20)
    expect(m.half).toBe(90 + 0.5 * 200)
    expect(m.rows[0]).toMatchObject({ cx: 90 + 150, x1: 90 + 120, x2: 90 + 180, y: 20 })
    expect(m.rows[1].cx).toBeNull()
    expect(m.ticks.map((t) => t.label)).toEqual(['0', '0.25', '0.5', '0.75', '1'])
  })

  it('clamps out-of-range bounds to the axis', () => {
    const m = barModel([{ label: 'x', value: 1, low: 0.9, high: 1.2, n: 3 }], BOX)
    expect(m.rows[0].x2).toBe(290)
  })
})

describe('text', () => {
  it('says the interval and whether the leader clears 0.5', () => {
    expect(intervalText({ label: 'a', value: 0.5, low: 0.4, high: 0.6, n: 10 })).toBe('0.5 [0.4, 0.6], n=10')
    const items = [
      { label: 'a', value: 0.3, low: 0.2, high: 0.4, n: 10 },
      { label: 'b', value: 0.7, low: 0.6, high: 0.8, n: 10 },
    ]
    expect(describeBars('Win rate', items)).toBe('Win rate: 2 rows; highest b at 0.7 [0.6, 0.8], n=10, above 0.5.')
    expect(describeBars('Win rate', [])).toBe('Win rate: no comparisons yet.')
  })
})
