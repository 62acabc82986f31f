import { describe, expect, it } from 'vitest'
import { ageSeconds, ageText, evaluateSummary, metricSeries, metricText, modelMetrics, shortSha, splitText, verdict } from './format'

describe('research formatting', () => {
  it('shortens hashes and lists splits train first', () => {
    expect(shortSha('a'.repeat(64))).toBe('aaaaaaaaaaaa')
    expect(shortSha('')).toBe('—')
    expect(splitText({ valid: 10, train: 90 })).toBe('train 90 · valid 10')
    expect(splitText({})).toBe('—')
  })

  it('says how old a heartbeat is', () => {
    const now = Date.parse('2026-11-01T10:00:00Z')
    expect(ageSeconds('2026-11-01T09:59:18Z', now)).toBe(42)
    expect(ageSeconds(null, now)).toBeNull()
    expect(ageSeconds('garbage', now)).toBeNull()
    expect(ageSeconds('2026-11-01T10:00:05Z', now)).toBe(0) // clock skew: never negative
    expect([ageText(42), ageText(125), ageText(7300), ageText(200000), ageText(null)]).toEqual([
      '42 s ago',
      '2 min ago',
      '2 h ago',
      '2 d ago',
      'never',
    ])
  })
})

describe('metric series', () => {
  const rows = [
    { step: 1, progress: 0.1, loss: 2.0, lr: 1e-5, tokens_per_s: 900, kl: null, time: '2026-…', elapsed_s: 1 },
    { step: 2, progress: 0.2, loss: 1.5, lr: 2e-5, tokens_per_s: 950, kl: 0.01, reward: 0.3 },
    { step: 3, progress: 0.3, loss: 'nan', lr: 2e-5, tokens_per_s: 940, kl: 0.02, reward: 0.5, note: 'x' },
  ]

  it('plots every numeric key but bookkeeping, loss first and throughput last', () => {
    const s = metricSeries(rows)
    expect(s.map((x) => x.key)).toEqual(['loss', 'reward', 'kl', 'lr', 'tokens_per_s'])
    expect(s[0].points).toEqual([
      { x: 1, y: 2 },
      { x: 2, y: 1.5 },
    ])
    expect(s.find((x) => x.key === 'kl')!.points).toEqual([
      { x: 2, y: 0.01 },
      { x: 3, y: 0.02 },
    ])
  })

  it('uses the row index when a row has no step, and nothing for no rows', () => {
    expect(metricSeries([{ loss: 1 }, { loss: 0.5 }])[0].points).toEqual([
      { x: 0, y: 1 },
      { x: 1, y: 0.5 },
    ])
    expect(metricSeries([])).toEqual([])
  })
})

describe('does the new policy win?', () => {
  it('reads the win rate of an evaluate job, as the runner stores it ({"result": result.json})', () => {
    const s = evaluateSummary({
      result: { mode: 'winrate', win_rate_b_over_a: 0.625, prompts: 40, mean_reward_a: 0.1, mean_reward_b: 0.4, policy_a: '/m/sft', policy_b: '/m/ppo' },
    })
    expect(s).toEqual({ mode: 'winrate', value: 0.625, prompts: 40, meanA: 0.1, meanB: 0.4, policyA: '/m/sft', policyB: '/m/ppo' })
    expect(verdict(0.625)).toBe('yes')
    expect(verdict(0.5)).toBe('even')
    expect(verdict(0.2)).toBe('no')
  })

  it('reads reward-model pairwise accuracy, unwrapped too', () => {
    expect(evaluateSummary({ mode: 'accuracy', accuracy: 0.71, pairs: 220, rows: 40 })).toEqual({ mode: 'accuracy', value: 0.71, pairs: 220, rows: 40 })
  })

  it('returns null for a result without either number', () => {
    expect(evaluateSummary({})).toBeNull()
    expect(evaluateSummary(null)).toBeNull()
    expect(evaluateSummary({ result: { mode: 'winrate', win_rate_b_over_a: 'NaN' } })).toBeNull()
  })
})

describe('model metrics', () => {
  it('flattens summary and final metrics, headline numbers first', () => {
    const m = modelMetrics({
      final: { step: 200, loss: 0.41, lr: 0, time: 'x', train_acc: 0.8 },
      summary: { valid_pairwise_accuracy: 0.72, valid_loss: 0.5, loss: 0.39 },
      duration_s: 61.5,
      win_rate: 0.6,
    })
    expect(m.map(([k]) => k)).toEqual(['valid_pairwise_accuracy', 'win_rate', 'loss', 'valid_loss', 'lr', 'train_acc', 'duration_s'])
    expect(Object.fromEntries(m)).toMatchObject({ loss: 0.39, train_acc: 0.8 }) // summary wins over final
    expect(metricText(['win_rate', 0.6])).toBe('win_rate 60.0 %')
    expect(metricText(['loss', 0.391])).toBe('loss 0.391')
    expect(metricText(['reward_mean_last', 0.42])).toBe('reward_mean_last 0.42') // a reward, not a fraction
    expect(modelMetrics({})).toEqual([])
  })
})
