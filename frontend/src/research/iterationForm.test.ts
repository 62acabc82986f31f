import { describe, expect, it } from 'vitest'
import { ALL_KINDS } from './kinds.fixture'
import { buildIterationBody, buildTriggerBody, canResume, canStandInForSft, initialIterationState, stageMetricText, stageParams, stageProgress, trainingStages, triggerState } from './iterationForm'
import type { Stage } from './researchApi'

const stage = (name: string, status: Stage['status']): Stage => ({ name, status, job: null, started_at: null, finished_at: null, duration_s: null, metric: null, error: '' })

describe('new iteration form', () => {
  it('runs sft, reward, the chosen method, generate and evaluate', () => {
    expect(trainingStages('ppo')).toEqual(['sft', 'reward', 'ppo', 'generate', 'evaluate'])
    expect(trainingStages('dpo')).toEqual(['sft', 'reward', 'dpo', 'generate', 'evaluate'])
    expect(trainingStages('ppo', true)).toEqual(['reward', 'ppo', 'generate', 'evaluate'])
    expect([canStandInForSft('sft'), canStandInForSft('policy'), canStandInForSft('base'), canStandInForSft(undefined)]).toEqual([true, true, false, false])
  })

  it('with skip SFT sends skip_sft and no SFT params, since no SFT stage runs', () => {
    const s = initialIterationState(ALL_KINDS)
    s.sources = [1]
    s.base = '4'
    s.skipSft = true
    s.stages.sft.max_steps = '40'
    s.stages.reward.max_steps = '8'
    expect(buildIterationBody(ALL_KINDS, s)).toEqual({
      ok: true,
      body: { source_campaign_ids: [1], target_campaign_id: null, base_model: 4, method: 'ppo', valid_fraction: 0.1, skip_sft: true, params: { reward: { max_steps: 8 } } },
    })
  })

  it('shows each stage its suggested params, without the runner options the iteration sets', () => {
    const s = initialIterationState(ALL_KINDS)
    expect(s.stages.sft).toEqual({ max_steps: '20', learning_rate: '0.00005', packing: false, lr_scheduler: 'cosine', max_length: '256' })
    expect(stageParams(ALL_KINDS[4]).map((p) => p.name)).toEqual(['num_samples'])
  })

  it('sends campaigns, base model and method, and only the params that were changed', () => {
    const s = initialIterationState(ALL_KINDS)
    s.sources = [2, 1]
    s.target = '3'
    s.base = '7'
    s.method = 'dpo'
    s.stages.sft.max_steps = '40'
    s.stages.ppo.max_steps = '99' // PPO does not run in a DPO round: not sent
    expect(buildIterationBody(ALL_KINDS, s)).toEqual({
      ok: true,
      body: { source_campaign_ids: [2, 1], target_campaign_id: 3, base_model: 7, method: 'dpo', valid_fraction: 0.1, params: { sft: { max_steps: 40 } } },
    })
  })

  it('says what is missing, and places a bad stage param under its stage', () => {
    const s = initialIterationState(ALL_KINDS)
    s.validFraction = '1'
    s.stages.reward.max_steps = 'ten'
    expect(buildIterationBody(ALL_KINDS, s)).toEqual({
      ok: false,
      errors: {
        source_campaign_ids: ['Pick at least one campaign to learn from.'],
        base_model: ['Pick the model this round starts from.'],
        valid_fraction: ['must be a number from 0 up to (not including) 1'],
        'params.reward.max_steps': ['must be a whole number'],
      },
    })
  })
})

describe('iteration pages', () => {
  it('says how far the stages got', () => {
    const stages = [stage('export', 'succeeded'), stage('sft', 'succeeded'), stage('reward', 'running'), stage('ppo', 'pending')]
    expect(stageProgress({ stages, current_stage: 'reward', status: 'running' })).toEqual({ done: 2, total: 4, text: '2 of 4 stages done · reward running' })
    expect(stageProgress({ stages: [stage('sft', 'failed')], current_stage: 'sft', status: 'failed' }).text).toBe('0 of 1 stages done · sft failed')
    const skipped = [stage('export', 'succeeded'), stage('sft', 'skipped'), stage('reward', 'queued')]
    expect(stageProgress({ stages: skipped, current_stage: 'reward', status: 'running' }).text).toBe('1 of 2 stages done · reward queued')
  })

  it("formats a stage's key metric and allows resuming only a failed or cancelled round", () => {
    expect(stageMetricText({ name: 'pairwise_accuracy', value: 0.74 })).toBe('pairwise accuracy 74.0 %')
    expect(stageMetricText({ name: 'loss', value: 1.234 })).toBe('loss 1.23')
    expect(stageMetricText(null)).toBe('—')
    expect(['running', 'succeeded', 'failed', 'cancelled'].map((status) => canResume({ status: status as 'running' }))).toEqual([false, false, true, true])
  })
})

describe('automatic iterations', () => {
  it('reads the current trigger and writes it back, blank turning it off', () => {
    const s = triggerState({ every_rankings: 500, template: { method: 'dpo', base_model: 4, skip_sft: true } })
    expect(s).toEqual({ everyRankings: '500', method: 'dpo', base: '4', skipSft: true })
    expect(buildTriggerBody(s)).toEqual({ ok: true, body: { every_rankings: 500, method: 'dpo', base_model: 4, skip_sft: true } })
    expect(buildTriggerBody({ ...s, everyRankings: ' ', base: '', skipSft: false })).toEqual({ ok: true, body: { every_rankings: null, method: 'dpo', base_model: null, skip_sft: false } })
    expect(triggerState({ every_rankings: null, template: {} })).toEqual({ everyRankings: '', method: 'ppo', base: '', skipSft: false })
  })

  it('refuses a count that is not a positive whole number', () => {
    for (const bad of ['0', '2.5', 'many', '-3']) expect(buildTriggerBody({ everyRankings: bad, method: 'ppo', base: '', skipSft: false }).ok).toBe(false)
  })
})
