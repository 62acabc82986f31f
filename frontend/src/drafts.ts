/**
 * Local drafts, one per (user, assignment), so a reload or a crashed tab never loses a labeler's work.
 *
 * Stored in localStorage under `prefloop:draft:v2:<userId>:<assignmentId>` on every change, and removed
 * only after the server accepted the submission (or the task was skipped). A draft also keeps the exact
 * body of a submit that is in flight, so a retry after a failure sends the very same body (the API
 * answers an identical re-submission with the first result).
 *
 * Keyed by user too, so on a shared browser one labeler's "Unsent work" never lists another's
 * assignments. Drafts written before that (`prefloop:draft:v1:<assignmentId>`, owner unknown) are never
 * listed; one is adopted by the user who opens that assignment (the server only serves an assignment
 * to its own labeler: 404 for anyone else's), and pruned by age otherwise.
 */

export const DRAFT_PREFIX = 'prefloop:draft:v2:'
export const LEGACY_DRAFT_PREFIX = 'prefloop:draft:v1:'

export interface DemonstrationDraft {
  kind: 'demonstration'
  text: string
}

export interface RatingDraft {
  likert: number | null
  flags: string[]
  note: string
}

export interface RankingDraft {
  kind: 'ranking'
  /** Rank buckets of completion ids, best first (see ranking/board.ts). */
  buckets: number[][]
  /** Keyed by completion id. */
  ratings: Record<string, RatingDraft>
  noneAcceptable: boolean
}

export type DraftBody = DemonstrationDraft | RankingDraft

export interface Draft<B extends DraftBody = DraftBody> {
  version: 2
  userId: number
  assignmentId: number
  savedAt: string
  /** Active time on task so far, in seconds (the visible timer resumes from it). */
  secondsSpent: number
  body: B
  /** The request body of a submit that has not been confirmed yet; a retry re-sends it verbatim. */
  pendingSubmit?: Record<string, unknown> | null
}

/** The subset of the Web Storage API the store needs (localStorage, or a fake in tests). */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
  key(index: number): string | null
  readonly length: number
}

export class MemoryStorage implements KeyValueStorage {
  private data = new Map<string, string>()
  get length(): number {
    return this.data.size
  }
  getItem(key: string): string | null {
    return this.data.has(key) ? (this.data.get(key) as string) : null
  }
  setItem(key: string, value: string): void {
    this.data.set(key, String(value))
  }
  removeItem(key: string): void {
    this.data.delete(key)
  }
  key(index: number): string | null {
    return [...this.data.keys()][index] ?? null
  }
}

export function draftKey(userId: number, assignmentId: number): string {
  return `${DRAFT_PREFIX}${userId}:${assignmentId}`
}

export function legacyDraftKey(assignmentId: number): string {
  return `${LEGACY_DRAFT_PREFIX}${assignmentId}`
}

function isDraftBody(x: unknown): x is DraftBody {
  if (!x || typeof x !== 'object') return false
  const b = x as Record<string, unknown>
  if (b.kind === 'demonstration') return typeof b.text === 'string'
  if (b.kind === 'ranking') {
    return Array.isArray(b.buckets) && !!b.ratings && typeof b.ratings === 'object' && typeof b.noneAcceptable === 'boolean'
  }
  return false
}

/** One user's drafts. */
export interface DraftStore {
  readonly userId: number
  /**
   * This user's draft of the assignment. Call it only for an assignment the server says is this user's:
   * a pre-v2 draft of that assignment (owner unknown) is adopted then.
   */
  load(assignmentId: number): Draft | null
  /** Returns false when the browser refused to store it (quota, private mode): the UI warns. */
  save(assignmentId: number, body: DraftBody, extra?: { secondsSpent?: number; pendingSubmit?: Record<string, unknown> | null }): boolean
  clear(assignmentId: number): void
  /** Assignment ids this user has a draft of. */
  list(): number[]
}

function keysWithPrefix(storage: KeyValueStorage, prefix: string): string[] {
  const out: string[] = []
  try {
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i)
      if (k && k.startsWith(prefix)) out.push(k)
    }
  } catch {
    /* storage unavailable: no keys */
  }
  return out
}

function read(storage: KeyValueStorage, key: string): Record<string, unknown> | null {
  try {
    const raw = storage.getItem(key)
    const v = raw ? (JSON.parse(raw) as unknown) : null
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null // a corrupt entry is ignored, never fatal
  }
}

function remove(storage: KeyValueStorage, key: string): void {
  try {
    storage.removeItem(key)
  } catch {
    /* storage unavailable: nothing to clear */
  }
}

export function createDraftStore(storage: KeyValueStorage, userId: number, now: () => Date = () => new Date()): DraftStore {
  const prefix = `${DRAFT_PREFIX}${userId}:`

  function parse(d: Record<string, unknown> | null, assignmentId: number): Draft | null {
    if (!d || d.version !== 2 || d.userId !== userId || d.assignmentId !== assignmentId || !isDraftBody(d.body)) return null
    const draft = d as unknown as Draft
    return { ...draft, secondsSpent: Number.isFinite(draft.secondsSpent) ? draft.secondsSpent : 0 }
  }

  /** A v1 draft of this assignment becomes this user's (see the module comment). */
  function adoptLegacy(assignmentId: number): Draft | null {
    const key = legacyDraftKey(assignmentId)
    const old = read(storage, key)
    if (!old || old.version !== 1 || old.assignmentId !== assignmentId || !isDraftBody(old.body)) return null
    const draft: Draft = {
      version: 2,
      userId,
      assignmentId,
      savedAt: typeof old.savedAt === 'string' ? old.savedAt : now().toISOString(),
      secondsSpent: Number.isFinite(old.secondsSpent) ? (old.secondsSpent as number) : 0,
      body: old.body,
      pendingSubmit: (old.pendingSubmit as Record<string, unknown> | null | undefined) ?? null,
    }
    try {
      storage.setItem(draftKey(userId, assignmentId), JSON.stringify(draft))
      remove(storage, key)
    } catch {
      /* could not move it: still usable for this session */
    }
    return draft
  }

  function load(assignmentId: number): Draft | null {
    return parse(read(storage, draftKey(userId, assignmentId)), assignmentId) ?? adoptLegacy(assignmentId)
  }

  function save(
    assignmentId: number,
    body: DraftBody,
    extra: { secondsSpent?: number; pendingSubmit?: Record<string, unknown> | null } = {},
  ): boolean {
    const previous = load(assignmentId)
    const draft: Draft = {
      version: 2,
      userId,
      assignmentId,
      savedAt: now().toISOString(),
      secondsSpent: extra.secondsSpent ?? previous?.secondsSpent ?? 0,
      body,
      pendingSubmit: extra.pendingSubmit !== undefined ? extra.pendingSubmit : (previous?.pendingSubmit ?? null),
    }
    try {
      storage.setItem(draftKey(userId, assignmentId), JSON.stringify(draft))
      return true
    } catch {
      return false
    }
  }

  function clear(assignmentId: number): void {
    remove(storage, draftKey(userId, assignmentId))
    remove(storage, legacyDraftKey(assignmentId))
  }

  function list(): number[] {
    return keysWithPrefix(storage, prefix)
      .map((k) => k.slice(prefix.length))
      .filter((rest) => /^\d+$/.test(rest))
      .map(Number)
      .sort((a, b) => a - b)
  }

  return { userId, load, save, clear, list }
}

/**
 * Forget every user's drafts (v2 and legacy v1) not touched for `maxAgeMs` (their leases are long gone),
 * and corrupt entries. Returns how many were removed.
 */
export function pruneDrafts(storage: KeyValueStorage, maxAgeMs: number, now: () => Date = () => new Date()): number {
  const cutoff = now().getTime() - maxAgeMs
  let removed = 0
  for (const key of [...keysWithPrefix(storage, DRAFT_PREFIX), ...keysWithPrefix(storage, LEGACY_DRAFT_PREFIX)]) {
    const d = read(storage, key)
    const t = d && typeof d.savedAt === 'string' && isDraftBody(d.body) ? Date.parse(d.savedAt) : NaN
    if (!(t >= cutoff)) {
      remove(storage, key)
      removed++
    }
  }
  return removed
}

function browserStorage(): KeyValueStorage {
  try {
    const s = window.localStorage
    const probe = `${DRAFT_PREFIX}probe`
    s.setItem(probe, '1')
    s.removeItem(probe)
    return s
  } catch {
    return new MemoryStorage()
  }
}

const stores = new Map<number, DraftStore>()
let storage: KeyValueStorage | null = null

/** localStorage, or memory where it is unavailable (private mode, disabled storage). */
export function appStorage(): KeyValueStorage {
  storage ??= browserStorage()
  return storage
}

/** A user's store over localStorage (falls back to memory where localStorage is unavailable). */
export function drafts(userId: number): DraftStore {
  let s = stores.get(userId)
  if (!s) {
    s = createDraftStore(appStorage(), userId)
    stores.set(userId, s)
  }
  return s
}

/** `pruneDrafts` over the app's storage (run once at start-up). */
export function pruneStoredDrafts(maxAgeMs: number): number {
  return pruneDrafts(appStorage(), maxAgeMs)
}
