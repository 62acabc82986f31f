/**
 * The ranking board as pure functions: no React, no DOM. The view (RankingBoard.tsx) only calls these.
 *
 * A board holds the K output ids of one task. Each output is either unranked (the pool, shown in
 * server order; nothing is pre-ranked, so the labeler's first order is their own) or placed in a rank
 * bucket. `buckets[0]` is the best rank; several outputs in one bucket are a tie. Every function returns
 * a new board and never mutates its input; empty buckets never survive an operation.
 */

export type OutputId = number

export interface Board {
  /** All output ids in server (display) order; fixes letters A, B, C… and the order inside ties. */
  readonly order: readonly OutputId[]
  /** Rank buckets, best first. Each id appears in at most one bucket. */
  readonly buckets: readonly (readonly OutputId[])[]
}

export type Position = { kind: 'unranked' } | { kind: 'ranked'; bucket: number; tied: boolean }

export function createBoard(order: readonly OutputId[]): Board {
  if (new Set(order).size !== order.length) throw new Error('duplicate output ids')
  return { order: [...order], buckets: [] }
}

/** Letter shown for an output: A for the first output the server gave, B for the second, … */
export function outputLabel(board: Board, id: OutputId): string {
  const i = board.order.indexOf(id)
  return i < 0 ? '?' : String.fromCharCode(65 + i)
}

export function bucketOf(board: Board, id: OutputId): number {
  return board.buckets.findIndex((b) => b.includes(id))
}

export function positionOf(board: Board, id: OutputId): Position {
  const bucket = bucketOf(board, id)
  if (bucket < 0) return { kind: 'unranked' }
  return { kind: 'ranked', bucket, tied: board.buckets[bucket].length > 1 }
}

export function unrankedIds(board: Board): OutputId[] {
  const placed = new Set(board.buckets.flat())
  return board.order.filter((id) => !placed.has(id))
}

/** Keep ties in server order so the same ranking always serialises the same way. */
function sortByOrder(board: Board, ids: readonly OutputId[]): OutputId[] {
  return [...ids].sort((a, b) => board.order.indexOf(a) - board.order.indexOf(b))
}

function assertKnown(board: Board, id: OutputId): void {
  if (!board.order.includes(id)) throw new Error(`output ${id} is not on this board`)
}

/**
 * Put `id` alone in a new bucket inserted at `gap`, counted in the board *before* `id` is removed:
 * gap 0 = above the current best, gap n = below the current worst.
 */
export function placeAsNewBucket(board: Board, id: OutputId, gap: number): Board {
  assertKnown(board, id)
  const n = board.buckets.length
  const g = Math.max(0, Math.min(n, gap))
  const buckets: OutputId[][] = []
  for (let i = 0; i <= n; i++) {
    if (i === g) buckets.push([id])
    if (i < n) {
      const rest = board.buckets[i].filter((x) => x !== id)
      if (rest.length) buckets.push(rest)
    }
  }
  return { order: board.order, buckets }
}

/** Put `id` into bucket `index` (a tie with its members), counted before `id` is removed. */
export function placeInBucket(board: Board, id: OutputId, index: number): Board {
  assertKnown(board, id)
  if (index < 0 || index >= board.buckets.length) return board
  const buckets = board.buckets
    .map((b, i) => (i === index ? sortByOrder(board, b.includes(id) ? b : [...b, id]) : b.filter((x) => x !== id)))
    .filter((b) => b.length > 0)
  return { order: board.order, buckets }
}

/** Send `id` back to the unranked pool. */
export function unrank(board: Board, id: OutputId): Board {
  assertKnown(board, id)
  const buckets = board.buckets.map((b) => b.filter((x) => x !== id)).filter((b) => b.length > 0)
  return { order: board.order, buckets }
}

/**
 * Move up one rank. Tied: leave the tie and sit just above it. Alone: swap places with the group above.
 * Unranked: enter the ranking as the new worst rank. Already alone at the top: unchanged.
 */
export function moveUp(board: Board, id: OutputId): Board {
  const pos = positionOf(board, id)
  if (pos.kind === 'unranked') return placeAsNewBucket(board, id, board.buckets.length)
  if (pos.tied) return placeAsNewBucket(board, id, pos.bucket)
  if (pos.bucket === 0) return board
  return placeAsNewBucket(board, id, pos.bucket - 1)
}

/**
 * Move down one rank. Tied: leave the tie and sit just below it. Alone: swap places with the group below.
 * Unranked, or already alone at the bottom: unchanged.
 */
export function moveDown(board: Board, id: OutputId): Board {
  const pos = positionOf(board, id)
  if (pos.kind === 'unranked') return board
  if (pos.tied) return placeAsNewBucket(board, id, pos.bucket + 1)
  if (pos.bucket === board.buckets.length - 1) return board
  return placeAsNewBucket(board, id, pos.bucket + 2)
}

/** Tie with the group above (unranked: tie with the current worst group). */
export function joinUp(board: Board, id: OutputId): Board {
  const pos = positionOf(board, id)
  if (pos.kind === 'unranked') return placeInBucket(board, id, board.buckets.length - 1)
  if (pos.bucket === 0) return board
  return placeInBucket(board, id, pos.bucket - 1)
}

/** Tie with the group below. */
export function joinDown(board: Board, id: OutputId): Board {
  const pos = positionOf(board, id)
  if (pos.kind === 'unranked' || pos.bucket >= board.buckets.length - 1) return board
  return placeInBucket(board, id, pos.bucket + 1)
}

/** Leave a tie: `id` gets its own rank just below its former tie-mates. Not tied: unchanged. */
export function splitTie(board: Board, id: OutputId): Board {
  const pos = positionOf(board, id)
  if (pos.kind !== 'ranked' || !pos.tied) return board
  return placeAsNewBucket(board, id, pos.bucket + 1)
}

/** Outputs in the order the board shows them: ranked best first, then the unranked pool. */
export function visualOrder(board: Board): OutputId[] {
  return [...board.buckets.flat(), ...unrankedIds(board)]
}

/** The id focus moves to from `id` by `delta` steps (clamped), in visual order. */
export function neighbour(board: Board, id: OutputId, delta: number): OutputId {
  const seq = visualOrder(board)
  const i = seq.indexOf(id)
  if (i < 0) return seq[0]
  return seq[Math.max(0, Math.min(seq.length - 1, i + delta))]
}

export function isComplete(board: Board): boolean {
  return board.order.length > 0 && unrankedIds(board).length === 0
}

function listLetters(letters: string[]): string {
  if (letters.length <= 1) return letters.join('')
  return `${letters.slice(0, -1).join(', ')} and ${letters[letters.length - 1]}`
}

/**
 * What still blocks submission, as sentences for the labeler ([] = ready).
 * `ratings` maps output id → Likert (or null); pass `requireRatings=false` to make ratings optional.
 */
export function missingItems(
  board: Board,
  ratings: Readonly<Record<number, number | null | undefined>>,
  requireRatings = true,
): string[] {
  const out: string[] = []
  if (requireRatings) {
    const unrated = board.order.filter((id) => !ratings[id]).map((id) => outputLabel(board, id))
    if (unrated.length) out.push(`Rate output${unrated.length > 1 ? 's' : ''} ${listLetters(unrated)} (1–7).`)
  }
  const unranked = unrankedIds(board).map((id) => outputLabel(board, id))
  if (unranked.length) {
    out.push(`Place output${unranked.length > 1 ? 's' : ''} ${listLetters(unranked)} on the ranking board.`)
  }
  return out
}

/** The API's `ranking` field: groups of completion ids, best first; ties in server order. */
export function toApiRanking(board: Board): OutputId[][] {
  if (!isComplete(board)) throw new Error('the ranking is not complete')
  return board.buckets.map((b) => sortByOrder(board, b))
}

/** Rebuild a board from a saved draft, dropping anything that no longer matches the task's outputs. */
export function restoreBoard(order: readonly OutputId[], saved: unknown): Board {
  const board = createBoard(order)
  if (!Array.isArray(saved)) return board
  const known = new Set(order)
  const seen = new Set<OutputId>()
  const buckets: OutputId[][] = []
  for (const group of saved) {
    if (!Array.isArray(group)) continue
    const kept = group.filter((x): x is OutputId => typeof x === 'number' && known.has(x) && !seen.has(x))
    kept.forEach((x) => seen.add(x))
    if (kept.length) buckets.push(sortByOrder(board, kept))
  }
  return { order: board.order, buckets }
}

/** A sentence for screen readers about where `id` now sits. */
export function describe(board: Board, id: OutputId): string {
  const label = `Output ${outputLabel(board, id)}`
  const pos = positionOf(board, id)
  if (pos.kind === 'unranked') return `${label} is unranked.`
  const n = board.buckets.length
  let s = `${label}: rank ${pos.bucket + 1} of ${n}`
  if (pos.tied) {
    const mates = board.buckets[pos.bucket].filter((x) => x !== id).map((x) => outputLabel(board, x))
    s += `, tied with ${listLetters(mates)}`
  }
  return `${s}.`
}
