import { describe, expect, it } from 'vitest'
import { createDraftStore, DRAFT_PREFIX, draftKey, type KeyValueStorage, MemoryStorage } from './drafts'

function clock(start = Date.parse('2026-11-01T10:00:00Z')) {
  let t = start
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) }
}

describe('draft store', () => {
  it('saves and loads a draft per assignment id', () => {
    const storage = new MemoryStorage()
    const store = createDraftStore(storage, clock().now)
    expect(store.load(12)).toBeNull()
    expect(store.save(12, { kind: 'demonstration', text: 'hello' }, { secondsSpent: 3 })).toBe(true)
    store.save(13, { kind: 'ranking', buckets: [[1], [2, 3]], ratings: { 1: { likert: 5, flags: [], note: '' } }, noneAcceptable: false })
    expect(storage.getItem(draftKey(12))).toContain('hello')
    const d = store.load(12)!
    expect(d.body).toEqual({ kind: 'demonstration', text: 'hello' })
    expect(d.secondsSpent).toBe(3)
    expect(d.savedAt).toBe('2026-11-01T10:00:00.000Z')
    expect(store.load(13)!.body).toMatchObject({ kind: 'ranking', buckets: [[1], [2, 3]] })
    expect(store.list()).toEqual([12, 13])
  })

  it('survives a "reload": a new store over the same storage sees the draft', () => {
    const storage = new MemoryStorage()
    createDraftStore(storage).save(7, { kind: 'demonstration', text: 'typed before the crash' })
    expect(createDraftStore(storage).load(7)?.body).toEqual({ kind: 'demonstration', text: 'typed before the crash' })
  })

  it('keeps secondsSpent and a pending submit across later saves unless overridden', () => {
    const store = createDraftStore(new MemoryStorage())
    store.save(1, { kind: 'demonstration', text: 'a' }, { secondsSpent: 10, pendingSubmit: { text: 'a' } })
    store.save(1, { kind: 'demonstration', text: 'a' })
    expect(store.load(1)).toMatchObject({ secondsSpent: 10, pendingSubmit: { text: 'a' } })
    store.save(1, { kind: 'demonstration', text: 'ab' }, { secondsSpent: 12, pendingSubmit: null })
    expect(store.load(1)).toMatchObject({ secondsSpent: 12, pendingSubmit: null })
  })

  it('clears only the submitted assignment', () => {
    const store = createDraftStore(new MemoryStorage())
    store.save(1, { kind: 'demonstration', text: 'a' })
    store.save(2, { kind: 'demonstration', text: 'b' })
    store.clear(1)
    expect(store.load(1)).toBeNull()
    expect(store.list()).toEqual([2])
  })

  it('ignores corrupt, foreign or mismatched entries instead of crashing', () => {
    const storage = new MemoryStorage()
    const store = createDraftStore(storage)
    storage.setItem(draftKey(1), '{not json')
    storage.setItem(draftKey(2), JSON.stringify({ version: 1, assignmentId: 3, body: { kind: 'demonstration', text: 'x' } }))
    storage.setItem(draftKey(4), JSON.stringify({ version: 1, assignmentId: 4, body: { kind: 'essay' } }))
    storage.setItem('unrelated', 'x')
    expect(store.load(1)).toBeNull()
    expect(store.load(2)).toBeNull()
    expect(store.load(4)).toBeNull()
    expect(store.list()).toEqual([1, 2, 4])
  })

  it('reports a failed write (quota exceeded) instead of throwing', () => {
    const full: KeyValueStorage = Object.assign(new MemoryStorage(), {
      setItem() {
        throw new DOMException('full', 'QuotaExceededError')
      },
    })
    const store = createDraftStore(full)
    expect(store.save(1, { kind: 'demonstration', text: 'a' })).toBe(false)
  })

  it('prunes drafts older than the given age and corrupt ones', () => {
    const c = clock()
    const storage = new MemoryStorage()
    const store = createDraftStore(storage, c.now)
    store.save(1, { kind: 'demonstration', text: 'old' })
    c.advance(8 * 24 * 3600 * 1000)
    store.save(2, { kind: 'demonstration', text: 'new' })
    storage.setItem(`${DRAFT_PREFIX}3`, 'garbage')
    expect(store.prune(7 * 24 * 3600 * 1000)).toBe(2)
    expect(store.list()).toEqual([2])
  })
})
