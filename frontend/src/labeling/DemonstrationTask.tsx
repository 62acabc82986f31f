import { api, type Assignment } from '../api'
import { Conversation } from '../components/Conversation'
import { GuidelinesPanel } from '../components/GuidelinesPanel'
import type { DemonstrationDraft } from '../drafts'
import { isSubmitChord, useWindowKeydown } from '../hotkeys'
import { SkipDialog } from './SkipDialog'
import { SubmitStatus } from './SubmitStatus'
import { TaskHeader } from './TaskHeader'
import { useSkip } from './useSkip'
import { useSubmission } from './useSubmission'
import { useTaskDraft } from './useTaskDraft'

/** Write the assistant's reply to the prompt. Ctrl/Cmd+Enter submits. */
export function DemonstrationTask({ assignment, onDone }: { assignment: Assignment; onDone: (flash: string) => void }) {
  const id = assignment.assignment_id
  const draft = useTaskDraft<DemonstrationDraft>(
    id,
    () => ({ kind: 'demonstration', text: '' }),
    (saved) => (saved.kind === 'demonstration' ? saved : null),
  )
  const sub = useSubmission({
    pending: draft.pending,
    setPending: draft.setPending,
    send: (body) => api.submit(id, body as { text: string }),
    onSuccess: () => {
      draft.finish()
      onDone('Demonstration submitted. Here is your next task.')
    },
  })
  const skip = useSkip(id, () => {
    draft.finish()
    onDone('Task skipped.')
  })
  const text = draft.body.text
  const ready = text.trim().length > 0 || !!draft.pending

  const submit = () => {
    if (!ready) return
    void sub.submit(() => ({ text, seconds_spent: Math.round(draft.seconds.current) }))
  }
  useWindowKeydown((e) => {
    if (isSubmitChord(e) && !document.querySelector('dialog[open]')) {
      e.preventDefault()
      submit()
    }
  })

  const chars = text.length
  return (
    <div className="task demonstration">
      <TaskHeader assignment={assignment} elapsed={draft.elapsed} onSkip={() => skip.setOpen(true)} />
      <div className="demo-layout">
        <div className="demo-main">
          <section className="panel" aria-labelledby="prompt-title">
            <h2 id="prompt-title">Prompt</h2>
            <Conversation messages={assignment.task.prompt.messages} />
          </section>
          <section className="panel">
            {draft.restored && (
              <p className="info" role="status">
                Restored your unsent draft from this device.
              </p>
            )}
            <label id="response-label" htmlFor="demo-text" className="field-label">
              Your response, written as the assistant
            </label>
            <textarea
              id="demo-text"
              className="demo-text"
              value={text}
              rows={10}
              aria-describedby="demo-count demo-hint"
              onChange={(e) => draft.setBody({ kind: 'demonstration', text: e.target.value })}
              autoFocus
            />
            <div className="row-between">
              <span id="demo-count" className="muted">
                {chars.toLocaleString()} character{chars === 1 ? '' : 's'}
              </span>
              <span id="demo-hint" className="muted">
                <kbd>Ctrl</kbd>/<kbd>⌘</kbd> + <kbd>Enter</kbd> submits · saved on this device as you type
              </span>
            </div>
            <div className="row-end">
              <button type="button" className="button primary" disabled={!ready || sub.state.status === 'submitting'} onClick={submit}>
                Submit demonstration
              </button>
            </div>
            <SubmitStatus
              state={sub.state}
              saveFailed={draft.saveFailed}
              onRetry={submit}
              onDiscard={() => {
                draft.finish()
                onDone('Draft discarded.')
              }}
            />
          </section>
        </div>
        <aside className="demo-side">
          <GuidelinesPanel guidelines={assignment.task.guidelines} defaultOpen />
        </aside>
      </div>
      <SkipDialog open={skip.open} onClose={() => skip.setOpen(false)} onSkip={skip.skip} busy={skip.busy} error={skip.error} />
    </div>
  )
}
