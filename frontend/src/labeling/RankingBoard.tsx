import {
  type Announcements,
  DndContext,
  DragOverlay,
  type DragEndEvent,
  type DragStartEvent,
  MeasuringStrategy,
  PointerSensor,
  pointerWithin,
  rectIntersection,
  type CollisionDetection,
  useDraggable,
  useDroppable,
  useSensor,
  useSensors,
} from '@dnd-kit/core'
import { useLayoutEffect, useRef, useState } from 'react'
import * as B from '../ranking/board'
import { snippet } from '../text'

interface Props {
  board: B.Board
  /** Called with a board operation, applied by the owner to the board as it is then (so two quick key
   * presses never act on the same old board and overwrite each other). */
  onChange: (update: (board: B.Board) => B.Board) => void
  texts: Record<number, string>
  likert: Record<number, number | null | undefined>
}

type KeyOp = (board: B.Board, id: number) => B.Board

/** Key → board operation (see ShortcutsHelp). Pure functions from ranking/board.ts do the work. */
function opFor(e: React.KeyboardEvent): { op: KeyOp; verb: string } | null {
  const up = e.key === 'ArrowUp'
  const down = e.key === 'ArrowDown'
  if (e.shiftKey && up) return { op: B.moveUp, verb: 'moved up' }
  if (e.shiftKey && down) return { op: B.moveDown, verb: 'moved down' }
  if (e.altKey && up) return { op: B.joinUp, verb: 'tied with the group above' }
  if (e.altKey && down) return { op: B.joinDown, verb: 'tied with the group below' }
  if (e.ctrlKey || e.metaKey || e.altKey) return null
  if (e.key === 't' || e.key === 'T') return { op: B.joinUp, verb: 'tied with the group above' }
  if (e.key === 's' || e.key === 'S') return { op: B.splitTie, verb: 'split from its tie' }
  if (e.key === 'Delete' || e.key === 'Backspace') return { op: B.unrank, verb: 'sent back to not ranked' }
  return null
}

const collision: CollisionDetection = (args) => {
  const hits = pointerWithin(args)
  return hits.length ? hits : rectIntersection(args)
}

/**
 * The ranking board: rank buckets (best first; several outputs in one bucket are a tie) and a pool of
 * outputs not ranked yet. Drag and drop with the mouse (dnd-kit PointerSensor): drop on a rank to tie,
 * on a gap to make a new rank. Everything also works from the keyboard on its own path (no drag):
 * a roving focus over the outputs plus move / tie / split keys, announced in a live region.
 */
export function RankingBoard({ board, onChange, texts, likert }: Props) {
  const seq = B.visualOrder(board)
  const [focused, setFocused] = useState<number>(seq[0])
  const [status, setStatus] = useState('')
  const [dragging, setDragging] = useState<number | null>(null)
  const chips = useRef(new Map<number, HTMLElement>())
  const refocus = useRef(false)
  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 4 } }))
  const L = (id: number) => B.outputLabel(board, id)

  // A chip that moves between the pool and a rank is a new element: focus goes back to it within the
  // same commit (a layout effect), so the next key press can never land on the page body and be lost.
  useLayoutEffect(() => {
    if (!refocus.current) return
    refocus.current = false
    chips.current.get(focused)?.focus()
  })

  /** Announce `op` on the board as rendered, and hand the owner `op` itself to apply to the latest board. */
  const apply = (op: (b: B.Board) => B.Board, id: number, verb: string) => {
    const next = op(board)
    if (next === board || JSON.stringify(next.buckets) === JSON.stringify(board.buckets)) {
      setStatus(`Output ${L(id)} can’t be ${verb} from here. ${B.describe(board, id)}`)
      return
    }
    onChange(op)
    setStatus(`Output ${L(id)} ${verb}. ${B.describe(next, id)}`)
  }

  const onKeyDown = (e: React.KeyboardEvent, id: number) => {
    const focusTo = (target: number) => {
      e.preventDefault()
      setFocused(target)
      refocus.current = true
      chips.current.get(target)?.focus()
    }
    if (!e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      if (e.key === 'ArrowUp') return focusTo(B.neighbour(board, id, -1))
      if (e.key === 'ArrowDown') return focusTo(B.neighbour(board, id, 1))
      if (e.key === 'Home') return focusTo(seq[0])
      if (e.key === 'End') return focusTo(seq[seq.length - 1])
      if ((e.key === 'Enter' || e.key === ' ') && B.positionOf(board, id).kind === 'unranked') {
        e.preventDefault()
        refocus.current = true
        const place = (b: B.Board) => (B.positionOf(b, id).kind === 'unranked' ? B.moveUp(b, id) : b)
        return apply(place, id, 'placed on the board')
      }
    }
    const hit = opFor(e)
    if (!hit) return
    e.preventDefault()
    refocus.current = true
    apply((b) => hit.op(b, id), id, hit.verb)
  }

  const onDragStart = (e: DragStartEvent) => setDragging(Number(String(e.active.id).slice(5)))
  const onDragEnd = (e: DragEndEvent) => {
    setDragging(null)
    const id = Number(String(e.active.id).slice(5))
    const over = e.over ? String(e.over.id) : null
    if (!over) return
    let op: ((b: B.Board) => B.Board) | null = null
    if (over.startsWith('bucket-')) op = (b) => B.placeInBucket(b, id, Number(over.slice(7)))
    else if (over.startsWith('gap-')) op = (b) => B.placeAsNewBucket(b, id, Number(over.slice(4)))
    else if (over === 'pool') op = (b) => B.unrank(b, id)
    setFocused(id)
    if (op && JSON.stringify(op(board).buckets) !== JSON.stringify(board.buckets)) apply(op, id, 'moved')
  }
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up output ${L(Number(String(active.id).slice(5)))}.`,
    onDragOver: ({ over }) => (over ? `Over ${dropName(String(over.id))}.` : 'Not over a drop target.'),
    onDragEnd: ({ active }) => B.describe(board, Number(String(active.id).slice(5))),
    onDragCancel: () => 'Drag cancelled.',
  }

  const chip = (id: number) => (
    <Chip
      key={id}
      id={id}
      label={L(id)}
      text={texts[id] ?? ''}
      likert={likert[id]}
      focused={focused === id}
      description={B.describe(board, id)}
      register={(el) => {
        if (el) chips.current.set(id, el)
        else chips.current.delete(id)
      }}
      onFocus={() => setFocused(id)}
      onKeyDown={(e) => onKeyDown(e, id)}
    />
  )
  const pool = B.unrankedIds(board)

  return (
    <section className={`board ${dragging !== null ? 'is-dragging' : ''}`} aria-labelledby="board-title">
      <h2 id="board-title">Ranking board</h2>
      <p id="board-help" className="muted small">
        Best at the top; outputs in one rank are tied. Drag, or focus an output (<kbd>b</kbd>) and use <kbd>↑</kbd>
        <kbd>↓</kbd> to move focus, <kbd>Shift</kbd>+<kbd>↑</kbd>/<kbd>↓</kbd> to move it, <kbd>Alt</kbd>+<kbd>↑</kbd>/<kbd>↓</kbd> or{' '}
        <kbd>t</kbd> to tie, <kbd>s</kbd> to split. <kbd>?</kbd> lists all keys.
      </p>
      <DndContext
        sensors={sensors}
        collisionDetection={collision}
        measuring={{ droppable: { strategy: MeasuringStrategy.Always } }}
        onDragStart={onDragStart}
        onDragEnd={onDragEnd}
        onDragCancel={() => setDragging(null)}
        accessibility={{ announcements, screenReaderInstructions: { draggable: 'Use the keys described in the board help.' } }}
      >
        <ol className="ranks" aria-label="Ranks, best first">
          {board.buckets.map((bucket, i) => (
            <li key={`r${i}`} className="rank-item">
              <Gap index={i} />
              <Bucket index={i} tied={bucket.length > 1}>
                {bucket.map(chip)}
              </Bucket>
            </li>
          ))}
          <li className="rank-item last-gap">
            <Gap index={board.buckets.length} empty={board.buckets.length === 0} />
          </li>
        </ol>
        <Pool count={pool.length}>{pool.map(chip)}</Pool>
        <DragOverlay dropAnimation={null}>{dragging !== null ? <div className="chip overlay">{`${L(dragging)} · ${snippet(texts[dragging] ?? '', 40)}`}</div> : null}</DragOverlay>
      </DndContext>
      <p className="board-status" role="status" aria-live="assertive" aria-atomic="true">
        {status}
      </p>
    </section>
  )
}

function dropName(id: string): string {
  if (id.startsWith('bucket-')) return `rank ${Number(id.slice(7)) + 1} (tie)`
  if (id.startsWith('gap-')) return `a new rank at position ${Number(id.slice(4)) + 1}`
  return 'not ranked yet'
}

function Bucket({ index, tied, children }: { index: number; tied: boolean; children: React.ReactNode }) {
  const { setNodeRef, isOver } = useDroppable({ id: `bucket-${index}` })
  return (
    <div ref={setNodeRef} className={`bucket ${isOver ? 'over' : ''} ${tied ? 'tied' : ''}`}>
      <div className="bucket-label">
        <span>Rank {index + 1}</span>
        {tied && <span className="tie-badge">tie</span>}
      </div>
      <div className="bucket-chips">{children}</div>
    </div>
  )
}

function Gap({ index, empty = false }: { index: number; empty?: boolean }) {
  const { setNodeRef, isOver } = useDroppable({ id: `gap-${index}` })
  return (
    <div ref={setNodeRef} className={`gap ${isOver ? 'over' : ''} ${empty ? 'empty' : ''}`} aria-hidden="true">
      {empty ? 'Drop the best output here, or press Enter on an output below' : isOver ? 'new rank here' : ''}
    </div>
  )
}

function Pool({ count, children }: { count: number; children: React.ReactNode }) {
  const { setNodeRef, isOver } = useDroppable({ id: 'pool' })
  return (
    <div ref={setNodeRef} className={`pool ${isOver ? 'over' : ''}`} role="group" aria-label="Not ranked yet">
      <div className="bucket-label">
        <span>Not ranked yet</span>
        <span className="muted">{count}</span>
      </div>
      <div className="bucket-chips">{count ? children : <span className="muted small">All outputs are on the board.</span>}</div>
    </div>
  )
}

function Chip(props: {
  id: number
  label: string
  text: string
  likert: number | null | undefined
  focused: boolean
  description: string
  register: (el: HTMLElement | null) => void
  onFocus: () => void
  onKeyDown: (e: React.KeyboardEvent) => void
}) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({ id: `chip-${props.id}` })
  return (
    <div
      ref={(el) => {
        setNodeRef(el)
        props.register(el)
      }}
      {...attributes}
      {...listeners}
      role="button"
      tabIndex={props.focused ? 0 : -1}
      aria-roledescription="rankable output"
      aria-describedby="board-help"
      aria-label={`${props.description.replace(/\.$/, '')}${props.likert ? `, rated ${props.likert}` : ''}.`}
      data-chip={props.id}
      className={`chip ${isDragging ? 'dragging' : ''}`}
      onFocus={props.onFocus}
      onKeyDown={props.onKeyDown}
    >
      <span className="chip-letter">{props.label}</span>
      <span className="chip-text">{snippet(props.text, 60)}</span>
      {props.likert ? <span className="chip-rating" aria-hidden="true">{props.likert}</span> : null}
    </div>
  )
}
