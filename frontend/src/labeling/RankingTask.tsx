import { useMemo, useRef } from 'react'
import { api, type Assignment, type RankingSubmit } from '../api'
import { Conversation } from '../components/Conversation'
import { GuidelinesPanel } from '../components/GuidelinesPanel'
import { Timer } from '../components/Timer'
import type { RankingDraft, RatingDraft } from '../drafts'
import { isSubmitChord, isTypingTarget, useWindowKeydown } from '../hotkeys'
import * as B from '../ranking/board'
import { OutputCard } from './OutputCard'
import { RankingBoard } from './RankingBoard'
import { SkipDialog } from './SkipDialog'
import { SubmitStatus } from './SubmitStatus'
import { TaskHeader } from './TaskHeader'
import { useSkip } from './useSkip'
import { useSubmission } from './useSubmission'
import { useTaskDraft } from './useTaskDraft'

const EMPTY_RATING: RatingDraft = { likert: null, flags: [], note: '' }

/** Rate each of the K outputs (Likert + flags + note), then rank them on the board; ties allowed. */
export function RankingTask({ assignment, onDone }: { assignment: Assignment; onDone: (flash: string) => void }) {
  const id = assignment.assignment_id
  const { completions, flags } = assignment.task
  const order = useMemo(() => completions.map((c) => c.id), [completions])
  const texts = useMemo(() => Object.fromEntries(completions.map((c) => [c.id, c.text])), [completions])

  const draft = useTaskDraft<RankingDraft>(
    id,
    () => ({ kind: 'ranking', buckets: [], ratings: {}, noneAcceptable: false }),
    (saved) =>
      saved.kind === 'ranking' ? { ...saved, buckets: B.restoreBoard(order, saved.buckets).buckets.map((b) => [...b]) } : null,
  )
  const { body, setBody } = draft
  const board: B.Board = useMemo(() => ({ order, buckets: body.buckets }), [order, body.buckets])
  const rating = (cid: number): RatingDraft => body.ratings[cid] ?? EMPTY_RATING
  const likert = Object.fromEntries(order.map((cid) => [cid, rating(cid).likert]))
  const missing = B.missingItems(board, likert)

  const sub = useSubmission({
    pending: draft.pending,
    setPending: draft.setPending,
    send: (b) => api.submit(id, b as unknown as RankingSubmit),
    onSuccess: () => {
      draft.finish()
      onDone('Ranking submitted. Here is your next task.')
    },
  })
  const skip = useSkip(id, () => {
    draft.finish()
    onDone('Task skipped.')
  })

  const build = (): Record<string, unknown> => ({
    ranking: B.toApiRanking(board),
    ratings: order
      .filter((cid) => rating(cid).likert)
      .map((cid) => ({ completion: cid, likert: rating(cid).likert, flags: rating(cid).flags, note: rating(cid).note })),
    none_acceptable: body.noneAcceptable,
    seconds_spent: Math.round(draft.seconds.current),
  })
  const ready = missing.length === 0 || !!draft.pending
  const submit = () => {
    if (ready) void sub.submit(build)
  }

  // Output focus and board shortcuts: j/k next/previous output, b the board (see ShortcutsHelp).
  const cards = useRef<(HTMLElement | null)[]>([])
  useWindowKeydown((e) => {
    if (document.querySelector('dialog[open]')) return
    if (isSubmitChord(e)) {
      e.preventDefault()
      submit()
      return
    }
    if (e.ctrlKey || e.metaKey || e.altKey || isTypingTarget(e.target)) return
    if (e.key === 'j' || e.key === 'k') {
      e.preventDefault()
      const current = cards.current.findIndex((c) => c?.contains(document.activeElement))
      const next = current < 0 ? 0 : Math.max(0, Math.min(order.length - 1, current + (e.key === 'j' ? 1 : -1)))
      const card = cards.current[next]
      card?.focus()
      card?.scrollIntoView({ block: 'nearest' })
    } else if (e.key === 'b') {
      e.preventDefault()
      document.querySelector<HTMLElement>('.board [data-chip][tabindex="0"]')?.focus()
    }
  })

  const placement = (cid: number) => {
    const pos = B.positionOf(board, cid)
    return pos.kind === 'unranked' ? 'not ranked yet' : `rank ${pos.bucket + 1}${pos.tied ? ' (tie)' : ''}`
  }

  return (
    <div className="task ranking">
      <TaskHeader assignment={assignment} elapsed={draft.elapsed} onSkip={() => skip.setOpen(true)} showTimer={false} />
      {draft.restored && (
        <p className="info" role="status">
          Restored your unsent work on this task from this device.
        </p>
      )}
      <div className="ranking-layout">
        <div className="ranking-main">
          <section className="panel" aria-labelledby="prompt-title">
            <h2 id="prompt-title">Prompt</h2>
            <Conversation messages={assignment.task.prompt.messages} />
          </section>
          <GuidelinesPanel guidelines={assignment.task.guidelines} defaultOpen={false} />
          <section aria-labelledby="outputs-title">
            <h2 id="outputs-title">
              Outputs <span className="muted small">({order.length}, in the order given; j / k to move between them)</span>
            </h2>
            <div className="outputs">
              {completions.map((c, i) => (
                <OutputCard
                  key={c.id}
                  ref={(el) => {
                    cards.current[i] = el
                  }}
                  id={c.id}
                  label={B.outputLabel(board, c.id)}
                  text={c.text}
                  rating={rating(c.id)}
                  flags={flags}
                  placement={placement(c.id)}
                  onChange={(update) =>
                    setBody((b) => ({ ...b, ratings: { ...b.ratings, [c.id]: update(b.ratings[c.id] ?? EMPTY_RATING) } }))
                  }
                />
              ))}
            </div>
          </section>
        </div>
        <aside className="ranking-side" aria-label="Ranking and submission">
          <Timer seconds={draft.elapsed} />
          <RankingBoard
            board={board}
            texts={texts}
            likert={likert}
            onChange={(update) =>
              setBody((b) => ({ ...b, buckets: update({ order, buckets: b.buckets }).buckets.map((x) => [...x]) }))
            }
          />
          <label className="check-row none-acceptable">
            <input
              type="checkbox"
              checked={body.noneAcceptable}
              onChange={(e) => setBody((b) => ({ ...b, noneAcceptable: e.target.checked }))}
            />
            None of these outputs is acceptable
          </label>
          <div id="submit-missing" className="missing" role="status" aria-live="polite">
            {missing.length > 0 && !draft.pending ? (
              <>
                <strong>Before you can submit:</strong>
                <ul>
                  {missing.map((m) => (
                    <li key={m}>{m}</li>
                  ))}
                </ul>
              </>
            ) : (
              <span className="ok-text">Ready to submit.</span>
            )}
          </div>
          <button
            type="button"
            className="button primary wide"
            disabled={!ready || sub.state.status === 'submitting'}
            aria-describedby="submit-missing"
            aria-keyshortcuts="Control+Enter Meta+Enter"
            onClick={submit}
          >
            Submit ranking
          </button>
          <SubmitStatus
            state={sub.state}
            saveFailed={draft.saveFailed}
            onRetry={submit}
            onDiscard={() => {
              draft.finish()
              onDone('Draft discarded.')
            }}
          />
        </aside>
      </div>
      <SkipDialog open={skip.open} onClose={() => skip.setOpen(false)} onSkip={skip.skip} busy={skip.busy} error={skip.error} />
    </div>
  )
}
