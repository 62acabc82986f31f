import { describe, expect, it } from 'vitest'
import { PPO, SFT } from './kinds.fixture'
import { buildJobBody, fieldsFromParams, initialState, inputOptions, keyForAttempt, paramsIn, parseParam, parseParamsJson, uuid4 } from './jobForm'
import type { ModelVersion, Snapshot } from './researchApi'

const snap = (id: number, name: string, kind: Snapshot['kind'], rows = 10) => ({ id, name, kind, rows }) as Snapshot
const model = (id: number, name: string, kind: ModelVersion['kind']) => ({ id, name, kind }) as ModelVersion

describe('the job form is built from a KindSpec', () => {
  it('prefills every param with its suggested value, as its field shows it', () => {
    expect(initialState(SFT)).toEqual({
      kind: 'sft',
      inputs: {},
      params: { max_steps: '20', learning_rate: '0.00005', packing: false, lr_scheduler: 'cosine', max_length: '256', output_name: '' },
    })
    expect(paramsIn(SFT, 'basic').map((p) => p.name)).toEqual(['max_steps', 'learning_rate'])
    expect(paramsIn(SFT, 'advanced').map((p) => p.name)).toEqual(['packing', 'lr_scheduler', 'max_length'])
  })

  it('offers only the snapshots and models an input accepts, by name with rows and kind', () => {
    const snapshots = [snap(1, 'demos-v1', 'sft', 90), snap(2, 'prompts-v1', 'prompts')]
    const models = [model(3, 'tiny-base', 'base'), model(4, 'rm-v1', 'reward'), model(5, 'sft-v1', 'sft')]
    expect(inputOptions(SFT.inputs[1], snapshots, models)).toEqual([{ id: 1, label: 'demos-v1 (sft, 90 rows)' }])
    expect(inputOptions(SFT.inputs[0], snapshots, models)).toEqual([
      { id: 3, label: 'tiny-base (base)' },
      { id: 5, label: 'sft-v1 (sft)' },
    ])
    expect(inputOptions(PPO.inputs[1], snapshots, models).map((o) => o.id)).toEqual([4])
  })

  it('builds {kind, inputs, params} with typed values; an optional input left empty is left out', () => {
    const s = { ...initialState(PPO), inputs: { model: '5', reward_model: '4', prompts: '2', ptx_data: '' } }
    expect(buildJobBody(PPO, s)).toEqual({ ok: true, body: { kind: 'ppo', inputs: { model: 5, reward_model: 4, prompts: 2 }, params: { max_steps: 8, kl_coef: 0.02 } } })
  })

  it('keeps numeric choices numbers and sends booleans and blank nullables as such', () => {
    const s = { ...initialState(SFT), inputs: { model: '3', data: '1' }, params: { ...initialState(SFT).params, max_steps: '', packing: true, max_length: '512' } }
    const r = buildJobBody(SFT, s)
    expect(r.ok && r.body.params).toEqual({ max_steps: null, learning_rate: 5e-5, packing: true, lr_scheduler: 'cosine', max_length: 512 }) // blank output_name: left out
  })

  it('says which required input is missing and which field does not parse, keyed like the API errors', () => {
    const s = { ...initialState(SFT), inputs: { model: '3' }, params: { ...initialState(SFT).params, max_steps: '2.5', learning_rate: 'fast' } }
    const r = buildJobBody(SFT, s)
    expect(r).toEqual({
      ok: false,
      errors: {
        'inputs.data': ['Pick a sft snapshot.'],
        'params.max_steps': ['must be a whole number'],
        'params.learning_rate': ['must be a number, e.g. 0.1 or 2e-5'],
      },
    })
  })

  it('parses each param type', () => {
    const [steps, lr, packing, sched] = SFT.params
    expect(parseParam(steps, ' 12 ')).toEqual({ ok: true, value: 12, omit: false })
    expect(parseParam(lr, '2e-5')).toEqual({ ok: true, value: 2e-5, omit: false })
    expect(parseParam(lr, '')).toEqual({ ok: true, value: undefined, omit: true }) // not nullable: the CLI default applies
    expect(parseParam(packing, true)).toEqual({ ok: true, value: true, omit: false })
    expect(parseParam(sched, 'step')).toEqual({ ok: false, error: 'must be one of linear, cosine' })
  })

  it('uses the raw JSON view as the params when it is open, and refuses what is not an object', () => {
    const s = { ...initialState(SFT), inputs: { model: '3', data: '1' } }
    expect(buildJobBody(SFT, s, '{"max_steps": 3, "extra": "x"}')).toEqual({ ok: true, body: { kind: 'sft', inputs: { model: 3, data: 1 }, params: { max_steps: 3, extra: 'x' } } })
    expect(buildJobBody(SFT, s, '[1]')).toMatchObject({ ok: false, errors: { params: [expect.stringContaining('JSON object')] } })
    expect(parseParamsJson('{oops')).toMatchObject({ ok: false, error: expect.stringContaining('not valid JSON') })
    expect(parseParamsJson('  ')).toEqual({ ok: true, value: {} })
  })

  it('turns JSON back into fields (absent keys at the CLI default) and names unknown keys', () => {
    const back = fieldsFromParams(SFT, { max_steps: 7, packing: true, nope: 1 })
    expect(back.values).toMatchObject({ max_steps: '7', packing: true, learning_rate: '0.00002', lr_scheduler: 'linear' })
    expect(back.unknown).toEqual(['nope'])
  })
})

describe('idempotency keys', () => {
  it('are version-4 uuids and differ per call', () => {
    const a = uuid4()
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(uuid4()).not.toBe(a)
    expect(uuid4((b) => b.fill(255))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff')
  })

  it('are reused by a retry of the same body and renewed when the body changes', () => {
    let n = 0
    const fresh = () => `k${++n}`
    const first = keyForAttempt(null, { kind: 'sft', params: { max_steps: 20 } }, fresh)
    const retry = keyForAttempt(first, { kind: 'sft', params: { max_steps: 20 } }, fresh)
    const changed = keyForAttempt(retry, { kind: 'sft', params: { max_steps: 21 } }, fresh)
    expect([first.key, retry.key, changed.key]).toEqual(['k1', 'k1', 'k2'])
  })
})
