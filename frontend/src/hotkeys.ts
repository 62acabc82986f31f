import { useEffect, useRef } from 'react'

const TEXT_INPUT_TYPES = new Set(['text', 'search', 'email', 'password', 'number', 'url', 'tel', 'date', 'time'])

/** True when a key press belongs to a text field (shortcuts must not steal the labeler's typing). */
export function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null
  if (!el || !el.tagName) return false
  if (el.isContentEditable) return true
  const tag = el.tagName.toLowerCase()
  if (tag === 'textarea' || tag === 'select') return true
  if (tag === 'input') return TEXT_INPUT_TYPES.has(((el as HTMLInputElement).type || 'text').toLowerCase())
  return false
}

/** True for Ctrl+Enter (or Cmd+Enter on a Mac): the submit chord, valid even inside text areas. */
export function isSubmitChord(e: KeyboardEvent | React.KeyboardEvent): boolean {
  return e.key === 'Enter' && (e.ctrlKey || e.metaKey)
}

/** A window-level keydown listener that always calls the latest handler. */
export function useWindowKeydown(handler: (e: KeyboardEvent) => void): void {
  const ref = useRef(handler)
  ref.current = handler
  useEffect(() => {
    const listener = (e: KeyboardEvent) => ref.current(e)
    window.addEventListener('keydown', listener)
    return () => window.removeEventListener('keydown', listener)
  }, [])
}
