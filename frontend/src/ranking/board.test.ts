import { describe as group, expect, it } from 'vitest'
import {
  type Board,
  bucketOf,
  createBoard,
  describe,
  isComplete,
  joinDown,
  joinUp,
  missingItems,
  moveDown,
  moveUp,
  neighbour,
  outputLabel,
  placeAsNewBucket,
  placeInBucket,
  positionOf,
  restoreBoard,
  splitTie,
  toApiRanking,
  unrank,
  unrankedIds,
  visualOrder,
} from './board'

// Server order: A=31, B=32, C=33, D=34.
const ORDER = [31, 32, 33, 34]
const A = 31, B = 32, C = 33, D = 34

function board(buckets: number[][]): Board {
  return { order: ORDER, buckets }
}

group('creation and ordering', () => {
  it('starts with everything unranked, in server order (no pre-filled ranking)', () => {
    const b = createBoard(ORDER)
    expect(b.buckets).toEqual([])
    expect(unrankedIds(b)).toEqual(ORDER)
    expect(visualOrder(b)).toEqual(ORDER)
    expect(isComplete(b)).toBe(false)
  })

  it('labels outputs by server position', () => {
    const b = createBoard(ORDER)
    expect([A, B, C, D].map((id) => outputLabel(b, id))).toEqual(['A', 'B', 'C', 'D'])
    expect(outputLabel(b, 999)).toBe('?')
  })

  it('rejects duplicate ids and unknown outputs', () => {
    expect(() => createBoard([1, 1])).toThrow()
    expect(() => placeAsNewBucket(createBoard(ORDER), 999, 0)).toThrow()
  })

  it('never mutates its input', () => {
    const b = board([[A], [B, C]])
    const copy = JSON.stringify(b)
    moveUp(b, C)
    joinDown(b, A)
    unrank(b, B)
    expect(JSON.stringify(b)).toBe(copy)
  })
})

group('placing (drag and drop targets)', () => {
  it('inserts a new bucket at a gap counted before removal', () => {
    let b = createBoard(ORDER)
    b = placeAsNewBucket(b, C, 0)
    b = placeAsNewBucket(b, A, 1)
    b = placeAsNewBucket(b, D, 0)
    expect(b.buckets).toEqual([[D], [C], [A]])
    // Moving D from the top to the gap between C and A: gap 2 in the pre-removal board.
    expect(placeAsNewBucket(b, D, 2).buckets).toEqual([[C], [D], [A]])
    // Gaps are clamped.
    expect(placeAsNewBucket(b, B, 99).buckets).toEqual([[D], [C], [A], [B]])
  })

  it('drops into a bucket to make a tie, kept in server order, and removes emptied buckets', () => {
    const b = placeInBucket(board([[D], [B], [A]]), A, 0)
    expect(b.buckets).toEqual([[A, D], [B]])
    expect(positionOf(b, D)).toEqual({ kind: 'ranked', bucket: 0, tied: true })
    expect(placeInBucket(b, C, 7)).toBe(b) // no such bucket: unchanged
  })

  it('unranks back to the pool', () => {
    const b = unrank(board([[A, B], [C]]), C)
    expect(b.buckets).toEqual([[A, B]])
    expect(unrankedIds(b)).toEqual([C, D])
  })
})

group('keyboard moves', () => {
  it('move up from the pool enters as the new worst rank; move down from the pool does nothing', () => {
    const b = moveUp(board([[B]]), D)
    expect(b.buckets).toEqual([[B], [D]])
    const same = board([[B]])
    expect(moveDown(same, D)).toBe(same)
  })

  it('move up / down swaps a lone output with the neighbouring group (ties move as a block)', () => {
    const b = board([[A], [B, C], [D]])
    expect(moveUp(b, D).buckets).toEqual([[A], [D], [B, C]])
    expect(moveDown(b, A).buckets).toEqual([[B, C], [A], [D]])
  })

  it('move up / down out of a tie splits it just above / below its tie-mates', () => {
    const b = board([[A], [B, C], [D]])
    expect(moveUp(b, C).buckets).toEqual([[A], [C], [B], [D]])
    expect(moveDown(b, B).buckets).toEqual([[A], [C], [B], [D]])
  })

  it('does nothing at the edges', () => {
    const b = board([[A], [B], [C], [D]])
    expect(moveUp(b, A)).toBe(b)
    expect(moveDown(b, D)).toBe(b)
    expect(joinUp(b, A)).toBe(b)
    expect(joinDown(b, D)).toBe(b)
  })

  it('join up / down ties with the neighbouring group', () => {
    const b = board([[A], [B], [C], [D]])
    expect(joinUp(b, C).buckets).toEqual([[A], [B, C], [D]])
    expect(joinDown(b, A).buckets).toEqual([[A, B], [C], [D]])
    // From the pool, join up ties with the current worst group.
    expect(joinUp(board([[A], [B]]), D).buckets).toEqual([[A], [B, D]])
    const empty = createBoard(ORDER)
    expect(joinUp(empty, A)).toEqual(empty)
  })

  it('split leaves a tie below the former tie-mates; a lone output is unchanged', () => {
    const b = board([[A, B, C], [D]])
    expect(splitTie(b, A).buckets).toEqual([[B, C], [A], [D]])
    const lone = board([[A], [B]])
    expect(splitTie(lone, A)).toBe(lone)
  })

  it('join then split round-trips', () => {
    const b = board([[A], [B], [C], [D]])
    expect(splitTie(joinUp(b, C), C).buckets).toEqual(b.buckets)
  })

  it('moves focus in visual order: ranked best first, then the pool, clamped at the ends', () => {
    const b = board([[C], [A, D]])
    expect(visualOrder(b)).toEqual([C, A, D, B])
    expect(neighbour(b, C, 1)).toBe(A)
    expect(neighbour(b, D, 1)).toBe(B)
    expect(neighbour(b, B, 1)).toBe(B)
    expect(neighbour(b, C, -1)).toBe(C)
    expect(neighbour(b, 999, 1)).toBe(C)
  })

  it('ranks four outputs with a tie using only keyboard moves', () => {
    // Labeler: C best, then A and D tied, then B.
    let b = createBoard(ORDER)
    b = moveUp(b, C) // [[C]]
    b = moveUp(b, A) // [[C],[A]]
    b = joinUp(b, D) // [[C],[A,D]]
    b = moveUp(b, B) // [[C],[A,D],[B]]
    expect(b.buckets).toEqual([[C], [A, D], [B]])
    expect(bucketOf(b, D)).toBe(1)
    expect(toApiRanking(b)).toEqual([[C], [A, D], [B]])
  })
})

group('completeness and the API shape', () => {
  it('says exactly what is missing', () => {
    const b = board([[A], [C]])
    expect(missingItems(b, { [A]: 5 })).toEqual([
      'Rate outputs B, C and D (1–7).',
      'Place outputs B and D on the ranking board.',
    ])
    expect(missingItems(board([[A, B, C]]), { [A]: 1, [B]: 2, [C]: 3, [D]: 4 })).toEqual([
      'Place output D on the ranking board.',
    ])
    expect(missingItems(b, {}, false)).toEqual(['Place outputs B and D on the ranking board.'])
  })

  it('is complete when every output is placed and rated', () => {
    const b = board([[B], [A, D], [C]])
    expect(isComplete(b)).toBe(true)
    expect(missingItems(b, { [A]: 7, [B]: 1, [C]: 2, [D]: 4 })).toEqual([])
  })

  it('converts to the API ranking (ties in server order) and refuses an incomplete board', () => {
    expect(toApiRanking(board([[D, A], [C, B]]))).toEqual([[A, D], [B, C]])
    expect(() => toApiRanking(board([[A]]))).toThrow(/not complete/)
  })

  it('restores a saved draft, dropping unknown, duplicate and malformed entries', () => {
    const b = restoreBoard(ORDER, [[D, 99], [], 'x', [A, D, 'y'], [C]])
    expect(b.buckets).toEqual([[D], [A], [C]])
    expect(unrankedIds(b)).toEqual([B])
    expect(restoreBoard(ORDER, null).buckets).toEqual([])
  })

  it('describes positions for the live region', () => {
    const b = board([[C], [A, B, D]])
    expect(describe(b, C)).toBe('Output C: rank 1 of 2.')
    expect(describe(b, A)).toBe('Output A: rank 2 of 2, tied with B and D.')
    expect(describe(board([[C]]), A)).toBe('Output A is unranked.')
  })
})
