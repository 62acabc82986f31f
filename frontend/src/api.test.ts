import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, readCookie } from './api'

afterEach(() => vi.unstubAllGlobals())

function respond(status: number, body?: unknown) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status }))
}

describe('api client', () => {
  it('reads the csrftoken cookie', () => {
    expect(readCookie('csrftoken', 'a=1; csrftoken=abc%3D; b=2')).toBe('abc=')
    expect(readCookie('csrftoken', 'a=1')).toBeNull()
  })

  it('sends JSON with the CSRF header and same-origin credentials on unsafe requests', async () => {
    vi.stubGlobal('document', { cookie: 'csrftoken=tok123' })
    const fetch = respond(201, { id: 1 })
    vi.stubGlobal('fetch', fetch)
    await api.submit(12, { text: 'hi' })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/assignments/12/submit')
    expect(init.method).toBe('POST')
    expect(init.credentials).toBe('same-origin')
    expect((init.headers as Record<string, string>)['X-CSRFToken']).toBe('tok123')
    expect(JSON.parse(init.body as string)).toEqual({ text: 'hi' })
  })

  it('maps 204 from queue/next to null (nothing left)', async () => {
    vi.stubGlobal('fetch', respond(204))
    expect(await api.next(3)).toBeNull()
  })

  it('classifies failures: network and 5xx are retryable, 4xx are not, and carry field errors', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('offline'))))
    const net = await api.me().catch((e) => e)
    expect(net).toBeInstanceOf(ApiError)
    expect([net.status, net.retryable]).toEqual([0, true])

    vi.stubGlobal('fetch', respond(502))
    const bad = await api.me().catch((e) => e)
    expect([bad.status, bad.retryable]).toEqual([502, true])

    vi.stubGlobal('fetch', respond(400, { ranking: ['completion 17 is not part of this task'] }))
    const invalid = await api.submit(1, { ranking: [[17]], ratings: [], none_acceptable: false }).catch((e) => e)
    expect(invalid.retryable).toBe(false)
    expect(invalid.fieldErrors).toEqual({ ranking: ['completion 17 is not part of this task'] })
    expect(invalid.message).toContain('completion 17')

    vi.stubGlobal('fetch', respond(409, { detail: 'already submitted with a different body' }))
    const conflict = await api.submit(1, { text: 'x' }).catch((e) => e)
    expect([conflict.status, conflict.message]).toEqual([409, 'already submitted with a different body'])
  })

  it('reads the import report errors nested under "errors" too', () => {
    const e = new ApiError(400, 'x', { detail: 'nothing was imported', errors: { name: ['taken'] } })
    expect(e.fieldErrors).toEqual({ name: ['taken'] })
  })
})
