import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api'
import { flattenErrors, formErrors } from './apiErrors'
import { researchApi } from './researchApi'

afterEach(() => vi.unstubAllGlobals())

function respond(status: number, body?: unknown) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status }))
}

describe('research client', () => {
  it('unwraps paginated lists', async () => {
    const fetch = respond(200, { count: 1, next: null, previous: null, results: [{ id: 3, name: 's' }] })
    vi.stubGlobal('fetch', fetch)
    expect(await researchApi.snapshots()).toEqual([{ id: 3, name: 's' }])
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/v1/snapshots?limit=500')
  })

  it('posts a job and cancels one with the CSRF header', async () => {
    vi.stubGlobal('document', { cookie: 'csrftoken=t0k' })
    const fetch = respond(201, { id: 9, status: 'queued' })
    vi.stubGlobal('fetch', fetch)
    await researchApi.createJob({ kind: 'sft', inputs: { model: 2, data: 'demos-v1' }, params: { max_steps: 5 } }, 'key-1')
    await researchApi.cancelJob(9)
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/jobs')
    expect(JSON.parse(init.body as string)).toEqual({ kind: 'sft', inputs: { model: 2, data: 'demos-v1' }, params: { max_steps: 5 } })
    expect(init.headers).toMatchObject({ 'X-CSRFToken': 't0k', 'Idempotency-Key': 'key-1' })
    const [url2, init2] = fetch.mock.calls[1] as unknown as [string, RequestInit]
    expect([url2, init2.method]).toEqual(['/api/v1/jobs/9/cancel', 'POST'])
  })
})

describe('form errors', () => {
  it('places known fields and gathers the rest into one message', () => {
    const e = new ApiError(400, 'x', { name: ['a snapshot named "a" already exists'], seed: ['bad'], detail: ['nothing to export'] })
    expect(formErrors(e, ['name'])).toEqual({ fields: { name: ['a snapshot named "a" already exists'] }, general: 'nothing to export seed: bad' })
  })

  it('flattens nested errors (named inputs, params) to dotted keys', () => {
    const e = new ApiError(400, 'x', { inputs: { model: ['no model named "nope"'] }, params: { max_steps: ['must be ≥ 1'], lr: 'bad' }, kind: ['?'] })
    expect(flattenErrors(e.body)).toEqual({ 'inputs.model': ['no model named "nope"'], 'params.max_steps': ['must be ≥ 1'], 'params.lr': ['bad'], kind: ['?'] })
    expect(formErrors(e, ['inputs.model', 'params.max_steps'])).toEqual({
      fields: { 'inputs.model': ['no model named "nope"'], 'params.max_steps': ['must be ≥ 1'] },
      general: 'params.lr: bad kind: ?',
    })
    expect(flattenErrors({ stages: [{}, { params: ['x'] }] })).toEqual({ 'stages.1.params': ['x'] })
  })

  it("places the API's \"name: message\" items next to the named field", () => {
    const e = new ApiError(400, 'x', { inputs: ['data: required (Demonstrations)', 'nope: not an input'], params: ['sft.max_steps: must be an integer, got 2.5'] })
    expect(formErrors(e, ['inputs', 'inputs.data', 'params.sft.max_steps'])).toEqual({
      fields: { 'inputs.data': ['required (Demonstrations)'], inputs: ['nope: not an input'], 'params.sft.max_steps': ['must be an integer, got 2.5'] },
      general: null,
    })
  })

  it('falls back to the error text', () => {
    expect(formErrors(new ApiError(500, 'The server had a problem'), ['name'])).toEqual({ fields: {}, general: 'The server had a problem' })
    expect(formErrors(new Error('boom'), [])).toEqual({ fields: {}, general: 'boom' })
  })
})
