/** Helpers for showing untrusted text (prompts, model outputs) without ever interpreting it as HTML. */

export type Segment = { type: 'text'; content: string } | { type: 'code'; content: string; lang: string }

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)?.*$/

/**
 * Split text into plain parts and fenced code blocks (``` or ~~~), keeping every character of the
 * content. An unclosed fence runs to the end of the text, as in CommonMark.
 */
export function splitFences(text: string): Segment[] {
  const lines = text.split('\n')
  const out: Segment[] = []
  let buf: string[] = []
  let fence: { marker: string; lang: string } | null = null

  const flush = (kind: 'text' | 'code', lang = '') => {
    if (kind === 'code') out.push({ type: 'code', content: buf.join('\n'), lang })
    else if (buf.length && buf.join('\n') !== '') out.push({ type: 'text', content: buf.join('\n') })
    buf = []
  }

  for (const line of lines) {
    const m = FENCE.exec(line)
    if (!fence && m) {
      flush('text')
      fence = { marker: m[1], lang: m[2] ?? '' }
    } else if (fence && m && m[1][0] === fence.marker[0] && m[1].length >= fence.marker.length && !m[2] && line.trim() === m[1]) {
      flush('code', fence.lang)
      fence = null
    } else {
      buf.push(line)
    }
  }
  if (fence) flush('code', fence.lang)
  else flush('text')
  return out
}

/** A short one-line preview (for board chips). */
export function snippet(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** "fails_to_follow_instruction" → "Fails to follow instruction". */
export function humanize(flag: string): string {
  const s = flag.replace(/[_-]+/g, ' ').trim()
  return s.charAt(0).toUpperCase() + s.slice(1)
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const mm = String(m).padStart(2, '0')
  const ss = String(sec).padStart(2, '0')
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}
