import { describe as suite, expect, it } from 'vitest'
import { ciBar, describe, position } from './ciScale'

const fig = (value: number | null, lo: number | null, hi: number | null, n_tasks = 3, n_items = 18) => ({
  value, ci_low: lo, ci_high: hi, n_tasks, n_items,
})

suite('ciScale', () => {
  it('places values on the axis and clamps', () => {
    expect(position(0, -1, 1)).toBe(50)
    expect(position(2, -1, 1)).toBe(100)
    expect(position(0.25, 0, 1)).toBe(25)
  })
  it('draws the interval and the value', () => {
    expect(ciBar(fig(0.5, 0.25, 0.75), 0, 1)).toEqual({ left: 25, width: 50, mark: 50 })
    expect(ciBar(fig(0.5, null, null), 0, 1)).toEqual({ left: 50, width: 0, mark: 50 })
    expect(ciBar(fig(null, null, null))).toBeNull()
  })
  it('says how much data is behind a figure', () => {
    expect(describe(fig(0.6123, 0.55, 0.66, 1200, 43200))).toBe('0.61 [0.55, 0.66] · 1,200 tasks, 43,200 items')
    expect(describe(fig(0.5, null, null, 1, 6))).toBe('0.50 no interval (too few tasks) · 1 task, 6 items')
    expect(describe(fig(null, null, null, 0, 0))).toBe('no data')
  })
})
