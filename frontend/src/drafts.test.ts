import { describe, expect, it } from 'vitest'
import { createDraftStore, DRAFT_PREFIX, draftKey, type KeyValueStorage, legacyDraftKey, MemoryStorage, pruneDrafts } from './drafts'

function clock(start = Date.parse('2026-11-01T10:00:00Z')) {
  let t = start
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) }
}

const ALICE = 7
const BOB = 8

describe('draft store', () => {
  it('saves and loads a draft per (user, assignment)', () => {
    const storage = new MemoryStorage()
    const store = createDraftStore(storage, ALICE, clock().now)
    expect(store.load(12)).toBeNull()
    expect(store.save(12, { kind: 'demonstration', text: 'hello' }, { secondsSpent: 3 })).toBe(true)
    store.save(13, { kind: 'ranking', buckets: [[1], [2, 3]], ratings: { 1: { likert: 5, flags: [], note: '' } }, noneAcceptable: false })
    expect(draftKey(ALICE, 12)).toBe('prefloop:draft:v2:7:12')
    expect(storage.getItem(draftKey(ALICE, 12))).toContain('hello')
    const d = store.load(12)!
    expect(d.body).toEqual({ kind: 'demonstration', text: 'hello' })
    expect(d.userId).toBe(ALICE)
    expect(d.secondsSpent).toBe(3)
    expect(d.savedAt).toBe('2026-11-01T10:00:00.000Z')
    expect(store.load(13)!.body).toMatchObject({ kind: 'ranking', buckets: [[1], [2, 3]] })
    expect(store.list()).toEqual([12, 13])
  })

  it("never lists or loads another user's drafts on a shared browser", () => {
    const storage = new MemoryStorage()
    const alice = createDraftStore(storage, ALICE)
    const bob = createDraftStore(storage, BOB)
    alice.save(12, { kind: 'demonstration', text: "alice's work" })
    bob.save(40, { kind: 'demonstration', text: "bob's work" })
    expect(alice.list()).toEqual([12])
    expect(bob.list()).toEqual([40])
    expect(bob.load(12)).toBeNull()
    // user 7 vs user 70: the prefix must not match across ids
    const u70 = createDraftStore(storage, 70)
    expect(u70.list()).toEqual([])
    bob.clear(12) // clearing is per user too
    expect(alice.load(12)?.body).toEqual({ kind: 'demonstration', text: "alice's work" })
  })

  it('adopts a legacy v1 draft only when its assignment is opened, never lists it', () => {
    const storage = new MemoryStorage()
    storage.setItem(
      legacyDraftKey(5),
      JSON.stringify({ version: 1, assignmentId: 5, savedAt: '2026-10-31T09:00:00.000Z', secondsSpent: 30, body: { kind: 'demonstration', text: 'old work' }, pendingSubmit: { text: 'old work' } }),
    )
    const alice = createDraftStore(storage, ALICE)
    expect(alice.list()).toEqual([]) // owner unknown: not offered on the home page
    const d = alice.load(5)! // the server served assignment 5 to Alice: it is hers
    expect(d).toMatchObject({ version: 2, userId: ALICE, secondsSpent: 30, savedAt: '2026-10-31T09:00:00.000Z', pendingSubmit: { text: 'old work' } })
    expect(storage.getItem(legacyDraftKey(5))).toBeNull()
    expect(alice.list()).toEqual([5])
    expect(createDraftStore(storage, BOB).load(5)).toBeNull()
  })

  it('survives a "reload": a new store over the same storage sees the draft', () => {
    const storage = new MemoryStorage()
    createDraftStore(storage, ALICE).save(7, { kind: 'demonstration', text: 'typed before the crash' })
    expect(createDraftStore(storage, ALICE).load(7)?.body).toEqual({ kind: 'demonstration', text: 'typed before the crash' })
  })

  it('keeps secondsSpent and a pending submit across later saves unless overridden', () => {
    const store = createDraftStore(new MemoryStorage(), ALICE)
    store.save(1, { kind: 'demonstration', text: 'a' }, { secondsSpent: 10, pendingSubmit: { text: 'a' } })
    store.save(1, { kind: 'demonstration', text: 'a' })
    expect(store.load(1)).toMatchObject({ secondsSpent: 10, pendingSubmit: { text: 'a' } })
    store.save(1, { kind: 'demonstration', text: 'ab' }, { secondsSpent: 12, pendingSubmit: null })
    expect(store.load(1)).toMatchObject({ secondsSpent: 12, pendingSubmit: null })
  })

  it('clears only the submitted assignment', () => {
    const store = createDraftStore(new MemoryStorage(), ALICE)
    store.save(1, { kind: 'demonstration', text: 'a' })
    store.save(2, { kind: 'demonstration', text: 'b' })
    store.clear(1)
    expect(store.load(1)).toBeNull()
    expect(store.list()).toEqual([2])
  })

  it('ignores corrupt, foreign or mismatched entries instead of crashing', () => {
    const storage = new MemoryStorage()
    const store = createDraftStore(storage, ALICE)
    storage.setItem(draftKey(ALICE, 1), '{not json')
    storage.setItem(draftKey(ALICE, 2), JSON.stringify({ version: 2, userId: ALICE, assignmentId: 3, body: { kind: 'demonstration', text: 'x' } }))
    storage.setItem(draftKey(ALICE, 4), JSON.stringify({ version: 2, userId: ALICE, assignmentId: 4, body: { kind: 'essay' } }))
    storage.setItem(draftKey(ALICE, 6), JSON.stringify({ version: 2, userId: BOB, assignmentId: 6, body: { kind: 'demonstration', text: 'x' } }))
    storage.setItem(legacyDraftKey(9), 'garbage')
    storage.setItem('unrelated', 'x')
    expect(store.load(1)).toBeNull()
    expect(store.load(2)).toBeNull()
    expect(store.load(4)).toBeNull()
    expect(store.load(6)).toBeNull()
    expect(store.load(9)).toBeNull()
    expect(store.list()).toEqual([1, 2, 4, 6])
  })

  it('reports a failed write (quota exceeded) instead of throwing', () => {
    const full: KeyValueStorage = Object.assign(new MemoryStorage(), {
      setItem() {
        throw new DOMException('full', 'QuotaExceededError')
      },
    })
    const store = createDraftStore(full, ALICE)
    expect(store.save(1, { kind: 'demonstration', text: 'a' })).toBe(false)
  })

  it("prunes every user's old drafts, legacy ones and corrupt ones", () => {
    const c = clock()
    const storage = new MemoryStorage()
    const alice = createDraftStore(storage, ALICE, c.now)
    const bob = createDraftStore(storage, BOB, c.now)
    alice.save(1, { kind: 'demonstration', text: 'old' })
    storage.setItem(legacyDraftKey(50), JSON.stringify({ version: 1, assignmentId: 50, savedAt: c.now().toISOString(), body: { kind: 'demonstration', text: 'old v1' } }))
    c.advance(8 * 24 * 3600 * 1000)
    alice.save(2, { kind: 'demonstration', text: 'new' })
    bob.save(3, { kind: 'demonstration', text: 'new' })
    storage.setItem(`${DRAFT_PREFIX}${ALICE}:4`, 'garbage')
    storage.setItem(legacyDraftKey(51), JSON.stringify({ version: 1, assignmentId: 51, savedAt: c.now().toISOString(), body: { kind: 'demonstration', text: 'recent v1' } }))
    expect(pruneDrafts(storage, 7 * 24 * 3600 * 1000, c.now)).toBe(3)
    expect(alice.list()).toEqual([2])
    expect(bob.list()).toEqual([3])
    expect(storage.getItem(legacyDraftKey(51))).not.toBeNull()
  })
})
