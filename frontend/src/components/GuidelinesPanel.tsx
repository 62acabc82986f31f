import { useState } from 'react'
import { isTypingTarget, useWindowKeydown } from '../hotkeys'
import { SafeMarkdown } from './SafeMarkdown'

const KEY = 'prefloop:guidelines-open'

function initialOpen(fallback: boolean): boolean {
  try {
    const v = window.localStorage.getItem(KEY)
    return v === null ? fallback : v === '1'
  } catch {
    return fallback
  }
}

/** The campaign's guidelines on the task page, collapsible (g), remembered across tasks. */
export function GuidelinesPanel({ guidelines, defaultOpen = true }: { guidelines: string; defaultOpen?: boolean }) {
  const [open, setOpen] = useState(() => initialOpen(defaultOpen))
  const toggle = () =>
    setOpen((o) => {
      try {
        window.localStorage.setItem(KEY, o ? '0' : '1')
      } catch {
        /* not remembered: fine */
      }
      return !o
    })
  useWindowKeydown((e) => {
    if (e.key === 'g' && !e.ctrlKey && !e.metaKey && !e.altKey && !isTypingTarget(e.target) && !document.querySelector('dialog[open]')) {
      e.preventDefault()
      toggle()
    }
  })
  return (
    <section className="guidelines panel" aria-labelledby="guidelines-title">
      <div className="panel-head">
        <h2 id="guidelines-title">Guidelines</h2>
        <button type="button" className="link-button" aria-expanded={open} aria-controls="guidelines-body" aria-keyshortcuts="g" onClick={toggle}>
          {open ? 'Hide' : 'Show'} <kbd>g</kbd>
        </button>
      </div>
      <div id="guidelines-body" hidden={!open}>
        {guidelines.trim() ? <SafeMarkdown source={guidelines} /> : <p className="muted">This campaign has no guidelines.</p>}
      </div>
    </section>
  )
}
