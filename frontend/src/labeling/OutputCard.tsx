import { forwardRef } from 'react'
import { UntrustedText } from '../components/UntrustedText'
import type { RatingDraft } from '../drafts'
import { isTypingTarget } from '../hotkeys'
import { humanize } from '../text'

const LIKERT_HINT: Record<number, string> = { 1: 'very bad', 4: 'okay', 7: 'excellent' }

interface Props {
  id: number
  label: string
  text: string
  rating: RatingDraft
  flags: string[]
  placement: string
  /** Called with an update of the rating as it is when applied (never a copy of an older render's). */
  onChange: (update: (r: RatingDraft) => RatingDraft) => void
}

/** One output: its text (untrusted, shown as text), Likert 1–7 (keys 1–7 while focused), flags, note. */
export const OutputCard = forwardRef<HTMLElement, Props>(function OutputCard(
  { id, label, text, rating, flags, placement, onChange },
  ref,
) {
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape' && isTypingTarget(e.target)) {
      // Leave the note without the mouse: focus returns to the card, where 1–7 and j/k work again.
      e.preventDefault()
      ;(e.currentTarget as HTMLElement).focus()
      return
    }
    if (isTypingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey) return
    if (/^[1-7]$/.test(e.key)) {
      e.preventDefault()
      const likert = Number(e.key)
      onChange((r) => ({ ...r, likert }))
    }
  }
  const toggleFlag = (flag: string, on: boolean) =>
    onChange((r) => ({ ...r, flags: on ? [...r.flags.filter((f) => f !== flag), flag] : r.flags.filter((f) => f !== flag) }))

  const titleId = `output-${id}-title`
  return (
    <article
      ref={ref}
      className="output-card"
      tabIndex={0}
      data-output={id}
      aria-labelledby={titleId}
      aria-keyshortcuts="1 2 3 4 5 6 7"
      onKeyDown={onKeyDown}
    >
      <header className="output-head">
        <h3 id={titleId}>Output {label}</h3>
        <span className="muted">{placement}</span>
        <span className={`badge ${rating.likert ? 'ok' : ''}`}>{rating.likert ? `rated ${rating.likert}/7` : 'not rated'}</span>
      </header>
      <div className="output-text">
        <UntrustedText text={text} />
      </div>
      <fieldset className="likert">
        <legend>
          Overall quality of output {label} <span className="muted">(press 1–7)</span>
        </legend>
        <div className="likert-options">
          {[1, 2, 3, 4, 5, 6, 7].map((n) => (
            <label key={n} className="likert-option" title={LIKERT_HINT[n]}>
              <input
                type="radio"
                name={`likert-${id}`}
                value={n}
                checked={rating.likert === n}
                onChange={() => onChange((r) => ({ ...r, likert: n }))}
              />
              <span>{n}</span>
            </label>
          ))}
          <span className="muted likert-scale" aria-hidden="true">
            1 very bad · 7 excellent
          </span>
        </div>
      </fieldset>
      {flags.length > 0 && (
        <fieldset className="flags">
          <legend>Flags for output {label}</legend>
          <div className="flag-grid">
            {flags.map((f) => (
              <label key={f} className="check-row">
                <input type="checkbox" checked={rating.flags.includes(f)} onChange={(e) => toggleFlag(f, e.target.checked)} />
                {humanize(f)}
              </label>
            ))}
          </div>
        </fieldset>
      )}
      <label className="field note">
        <span>Note on output {label} (optional)</span>
        <textarea rows={1} value={rating.note} onChange={(e) => {
          const note = e.target.value
          onChange((r) => ({ ...r, note }))
        }} />
      </label>
    </article>
  )
})
