import { describe, expect, it } from 'vitest'
import { buildJobBody, JOB_RULES, paramValue, parseParams, setParam } from './jobForm'
import { JOB_KINDS } from './researchApi'

describe('job inputs per kind (docs/api.md)', () => {
  it('has a rule for every kind', () => {
    expect(Object.keys(JOB_RULES).sort()).toEqual([...JOB_KINDS].sort())
    expect(JOB_RULES.ppo.models.map((m) => m.kinds)).toEqual([['base', 'sft', 'policy'], ['reward']])
    expect(JOB_RULES.reward.snapshotKinds).toEqual(['comparisons'])
    expect(JOB_RULES.reward.models[0].kinds).not.toContain('reward')
    expect(JOB_RULES.evaluate.models[0].multiple).toBe(true)
  })

  it('builds the POST /jobs body from the chosen inputs', () => {
    const r = buildJobBody({ kind: 'ppo', snapshotId: 3, models: { policy: [5], reward: [7] }, paramsText: '{"max_steps": 50}' })
    expect(r).toEqual({ ok: true, body: { kind: 'ppo', params: { max_steps: 50 }, input_snapshot_ids: [3], input_model_ids: [5, 7] } })
  })

  it('says what is missing, keyed like the API errors', () => {
    const r = buildJobBody({ kind: 'ppo', snapshotId: null, models: { policy: [5] }, paramsText: '[1]' })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors.input_snapshot_ids[0]).toContain('prompts snapshot')
    expect(r.errors.input_model_ids).toEqual(['Pick a model for “Reward model”.'])
    expect(r.errors.params[0]).toContain('JSON object')
  })

  it('de-duplicates models picked twice (evaluate)', () => {
    const r = buildJobBody({ kind: 'evaluate', snapshotId: 1, models: { models: [4, 2, 4] }, paramsText: '' })
    expect(r.ok && r.body.input_model_ids).toEqual([4, 2])
  })
})

describe('params JSON editor', () => {
  it('parses blank as {} and rejects non-objects with a message', () => {
    expect(parseParams('  ')).toEqual({ ok: true, value: {} })
    expect(parseParams('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } })
    expect(parseParams('{oops')).toMatchObject({ ok: false, error: expect.stringContaining('not valid JSON') })
    expect(parseParams('3')).toMatchObject({ ok: false })
    expect(parseParams('null')).toMatchObject({ ok: false })
  })

  it('edits one key from a common-field input and keeps the others', () => {
    const t1 = setParam('{"beta": 0.1}', 'max_steps', '200')!
    expect(JSON.parse(t1)).toEqual({ beta: 0.1, max_steps: 200 })
    const t2 = setParam(t1, 'learning_rate', '2e-5')!
    expect(JSON.parse(t2).learning_rate).toBe(2e-5)
    expect(paramValue(t2, 'learning_rate')).toBe('0.00002')
    expect(JSON.parse(setParam(t2, 'max_steps', '')!)).toEqual({ beta: 0.1, learning_rate: 2e-5 })
    expect(setParam('{}', 'max_steps', '')).toBe('{}')
    expect(JSON.parse(setParam('', 'optim', 'adamw')!)).toEqual({ optim: 'adamw' })
    expect(setParam('{broken', 'max_steps', '1')).toBeNull()
    expect(paramValue('{broken', 'max_steps')).toBe('')
  })
})
