import { describe, expect, it } from 'vitest'
import {
  ageSeconds, ageText, countsText, durationText, estimateView, evaluateSummary, intervalText, metricSeries, metricText, modelMetrics,
  roughDuration, runSeconds, shortSha, splitText, verdict, VERDICT_TEXT,
} from './format'

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

  it('plots the PPO signals in a fixed order, and never samples or warnings', () => {
    const ppo = [{ step: 1, response_length: 40, entropy: 2.1, kl: 0.01, heldout_reward: 0.2, reward: 0.3, warning: 'x', samples: [{ prompt: 'p', response: 'r', reward: 1 }] }]
    expect(metricSeries(ppo).map((x) => x.key)).toEqual(['reward', 'heldout_reward', 'kl', 'entropy', 'response_length'])
  })

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
  const winrate = (over: Record<string, unknown>) => ({
    result: {
      win_rate_b_over_a: 0.625, ci_low: 0.52, ci_high: 0.72, ci_method: 'wilson 95 %', tie_rule: 'ties count half',
      wins_a: 5, wins_b: 12, ties: 3, identical: 0, n_pairs: 20, judge: 'reward model rm-v1', split: 'valid', ...over,
    },
    recorded: {},
  })

  it('reads the win rate with its interval and counts, as the runner stores it ({"result": result.json})', () => {
    const s = evaluateSummary(winrate({}))
    expect(s).toMatchObject({ mode: 'winrate', value: 0.625, interval: { low: 0.52, high: 0.72, method: 'wilson 95 %' }, winsB: 12, winsA: 5, ties: 3, identical: 0, pairs: 20 })
    if (s?.mode !== 'winrate') return
    expect(countsText(s)).toBe('B won 12 · A won 5 · ties 3 · identical 0 · of 20 pairs')
    expect(intervalText(s.interval)).toBe('52.0 % – 72.0 % (wilson 95 %)')
    expect(VERDICT_TEXT[verdict(s.value, s)]).toBe('Yes: the new policy wins')
  })

  it('says "not clear" when the interval includes 50 %, and yes/no only when it lies on one side', () => {
    expect(verdict(0.58, { interval: { low: 0.45, high: 0.7, method: '' } })).toBe('unclear')
    expect(verdict(0.3, { interval: { low: 0.2, high: 0.45, method: '' } })).toBe('no')
    expect(verdict(0.625)).toBe('yes')
    expect(verdict(0.2)).toBe('no')
    expect(verdict(0.5)).toBe('even')
  })

  it('never says "Even" when every comparison was between identical texts', () => {
    const s = evaluateSummary(winrate({ win_rate_b_over_a: 0.5, ci_low: 0.39, ci_high: 0.61, wins_a: 0, wins_b: 0, ties: 0, identical: 20 }))
    if (s?.mode !== 'winrate') throw new Error('not a win rate')
    const v = verdict(s.value, s)
    expect(v).toBe('identical')
    expect(VERDICT_TEXT[v]).toBe('No evidence: every comparison was between identical texts')
    expect(VERDICT_TEXT[v]).not.toContain('Even')
    // Some identical pairs (not all) leave the interval to decide.
    expect(verdict(0.5, { interval: { low: 0.4, high: 0.6, method: '' }, identical: 5, pairs: 20 })).toBe('unclear')
  })

  it('reads reward-model pairwise accuracy, unwrapped too, and older results', () => {
    expect(evaluateSummary({ accuracy: 0.71, ci_low: 0.6, ci_high: 0.8, n_pairs: 220, split: 'valid' })).toEqual({
      mode: 'accuracy', value: 0.71, interval: { low: 0.6, high: 0.8, method: '' }, pairs: 220, split: 'valid',
    })
    expect(evaluateSummary({ result: { mode: 'winrate', win_rate_b_over_a: 0.4, prompts: 8 } })).toMatchObject({ value: 0.4, pairs: 8, interval: null, winsA: null })
  })

  it('returns null for a result without either number', () => {
    expect(evaluateSummary({})).toBeNull()
    expect(evaluateSummary(null)).toBeNull()
    expect(evaluateSummary({ result: { win_rate_b_over_a: 'NaN' } })).toBeNull()
  })
})

describe('durations and estimates', () => {
  it('formats run times', () => {
    expect([durationText(0), durationText(42.4), durationText(60), durationText(312), durationText(3725), durationText(90061)]).toEqual([
      '0 s', '42 s', '1 min', '5 min 12 s', '1 h 02 min', '25 h 01 min',
    ])
    expect([durationText(null), durationText(undefined), durationText(NaN), durationText(-1)]).toEqual(['—', '—', '—', '—'])
  })

  it("takes a job's duration from the server, else from its start and end (now while running)", () => {
    const now = Date.parse('2026-11-01T10:10:00Z')
    expect(runSeconds({ duration_s: 12, started_at: null, finished_at: null }, now)).toBe(12)
    expect(runSeconds({ started_at: '2026-11-01T10:00:00Z', finished_at: '2026-11-01T10:05:00Z' }, now)).toBe(300)
    expect(runSeconds({ started_at: '2026-11-01T10:00:00Z', finished_at: null }, now)).toBe(600)
    expect(runSeconds({ duration_s: null, started_at: null, finished_at: null }, now)).toBeNull()
  })

  it('shows an estimate roughly, with what it is made of and its warning', () => {
    expect(estimateView({ seconds: 312, steps: 20, examples: 160, tokens: 81920, model_params: 134515008, basis: '20 steps × 4 examples', warning: null })).toEqual({
      headline: 'about 5 min', facts: ['20 steps', '160 examples', '81.9 k tokens', '135 M model parameters'], basis: '20 steps × 4 examples', warning: null,
    })
    const slow = estimateView({ seconds: 11000, warning: 'would take about 3 h on this CPU' })
    expect([slow.headline, slow.warning, slow.facts]).toEqual(['about 3.1 h', 'would take about 3 h on this CPU', []])
    expect(estimateView({ seconds: null }).headline).toBe('no time estimate for this job')
    expect(estimateView({ seconds: 60, examples: 1600 }).facts).toEqual(['1.6 k examples'])
    expect([roughDuration(4), roughDuration(44), roughDuration(600)]).toEqual(['about 10 s', 'about 40 s', 'about 10 min'])
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
