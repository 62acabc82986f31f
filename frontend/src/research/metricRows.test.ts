import { describe, expect, it } from 'vitest'
import { latestSamples, metricWarnings } from './metricRows'

describe('PPO samples and warnings in metric rows', () => {
  const rows = [
    { step: 1, reward: 0.1, samples: [{ prompt: 'old', response: 'old', reward: 0 }] },
    { step: 2, reward: 0.2, warning: 'KL above target' },
    { step: 3, reward: 0.3, warning: 'reward collapsed' },
    { step: 4, reward: 0.3, warning: 'KL above target', samples: [{ prompt: '<b>p</b>', response: '<img src=x>', reward: 1.5 }, { prompt: 'q', response: 7 }, 'junk', { prompt: 'r', response: 's' }, { prompt: 't', response: 'u' }] },
    { step: 5, reward: 0.4 },
  ]

  it('takes the newest row with samples, at most n, keeping text as text', () => {
    expect(latestSamples(rows)).toEqual([
      { step: 4, prompt: '<b>p</b>', response: '<img src=x>', reward: 1.5 },
      { step: 4, prompt: 'q', response: '7', reward: null },
      { step: 4, prompt: 'r', response: 's', reward: null },
    ])
    expect(latestSamples([{ step: 1 }])).toEqual([])
  })

  it('lists distinct warnings, newest first, with the step each was last seen at', () => {
    expect(metricWarnings(rows)).toEqual([
      { step: 4, text: 'KL above target' },
      { step: 3, text: 'reward collapsed' },
    ])
    expect(metricWarnings(rows, 1)).toEqual([{ step: 4, text: 'KL above target' }])
    expect(metricWarnings([{ warning: '' }, { warning: 3 }])).toEqual([])
  })
})
