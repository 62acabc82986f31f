/**
 * Local drafts, one per assignment, so a reload or a crashed tab never loses a labeler's work.
 *
 * Stored in localStorage under `prefloop:draft:v1:<assignmentId>` on every change, and removed only
 * after the server accepted the submission (or the task was skipped). A draft also keeps the exact
 * body of a submit that is in flight, so a retry after a failure sends the very same body (the API
 * answers an identical re-submission with the first result).
 */

export const DRAFT_PREFIX = 'prefloop:draft:v1:'

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
  version: 1
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

export function draftKey(assignmentId: number): string {
  return `${DRAFT_PREFIX}${assignmentId}`
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

export interface DraftStore {
  load(assignmentId: number): Draft | null
  /** Returns false when the browser refused to store it (quota, private mode): the UI warns. */
  save(assignmentId: number, body: DraftBody, extra?: { secondsSpent?: number; pendingSubmit?: Record<string, unknown> | null }): boolean
  clear(assignmentId: number): void
  /** Assignment ids that have a draft. */
  list(): number[]
  /** Forget drafts not touched for `maxAgeMs` (leases are long gone by then). Returns how many. */
  prune(maxAgeMs: number): number
}

export function createDraftStore(storage: KeyValueStorage, now: () => Date = () => new Date()): DraftStore {
  function load(assignmentId: number): Draft | null {
    let raw: string | null
    try {
      raw = storage.getItem(draftKey(assignmentId))
    } catch {
      return null
    }
    if (!raw) return null
    try {
      const d = JSON.parse(raw) as Draft
      if (d?.version !== 1 || d.assignmentId !== assignmentId || !isDraftBody(d.body)) return null
      return { ...d, secondsSpent: Number.isFinite(d.secondsSpent) ? d.secondsSpent : 0 }
    } catch {
      return null // a corrupt entry is ignored, never fatal
    }
  }

  function save(
    assignmentId: number,
    body: DraftBody,
    extra: { secondsSpent?: number; pendingSubmit?: Record<string, unknown> | null } = {},
  ): boolean {
    const previous = load(assignmentId)
    const draft: Draft = {
      version: 1,
      assignmentId,
      savedAt: now().toISOString(),
      secondsSpent: extra.secondsSpent ?? previous?.secondsSpent ?? 0,
      body,
      pendingSubmit: extra.pendingSubmit !== undefined ? extra.pendingSubmit : (previous?.pendingSubmit ?? null),
    }
    try {
      storage.setItem(draftKey(assignmentId), JSON.stringify(draft))
      return true
    } catch {
      return false
    }
  }

  function clear(assignmentId: number): void {
    try {
      storage.removeItem(draftKey(assignmentId))
    } catch {
      /* storage unavailable: nothing to clear */
    }
  }

  function keys(): string[] {
    const out: string[] = []
    try {
      for (let i = 0; i < storage.length; i++) {
        const k = storage.key(i)
        if (k && k.startsWith(DRAFT_PREFIX)) out.push(k)
      }
    } catch {
      /* ignore */
    }
    return out
  }

  function list(): number[] {
    return keys()
      .map((k) => Number(k.slice(DRAFT_PREFIX.length)))
      .filter((n) => Number.isInteger(n))
      .sort((a, b) => a - b)
  }

  function prune(maxAgeMs: number): number {
    const cutoff = now().getTime() - maxAgeMs
    let removed = 0
    for (const id of list()) {
      const d = load(id)
      const t = d ? Date.parse(d.savedAt) : NaN
      if (!d || !(t >= cutoff)) {
        clear(id)
        removed++
      }
    }
    return removed
  }

  return { load, save, clear, list, prune }
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

let defaultStore: DraftStore | null = null

/** The app's store over localStorage (falls back to memory where localStorage is unavailable). */
export function drafts(): DraftStore {
  if (!defaultStore) defaultStore = createDraftStore(browserStorage())
  return defaultStore
}
