import { describe, expect, it } from 'vitest'
import { formatDuration, humanize, snippet, splitFences } from './text'

describe('splitFences', () => {
  it('keeps plain text (and HTML-looking text) as text', () => {
    const t = '<script>alert(1)</script>\n  indented\n\n<img src=x onerror=alert(1)>'
    expect(splitFences(t)).toEqual([{ type: 'text', content: t }])
  })

  it('separates fenced code blocks and keeps their whitespace exactly', () => {
    const t = 'Here:\n```python\ndef f():\n    return 1\n```\nDone.'
    expect(splitFences(t)).toEqual([
      { type: 'text', content: 'Here:' },
      { type: 'code', lang: 'python', content: 'def f():\n    return 1' },
      { type: 'text', content: 'Done.' },
    ])
  })

  it('runs an unclosed fence to the end and supports ~~~', () => {
    expect(splitFences('a\n~~~\nx\n  y')).toEqual([
      { type: 'text', content: 'a' },
      { type: 'code', lang: '', content: 'x\n  y' },
    ])
  })

  it('does not close a fence with a shorter or different marker', () => {
    expect(splitFences('````\n```\n````')).toEqual([{ type: 'code', lang: '', content: '```' }])
    expect(splitFences('```\n~~~\n```')).toEqual([{ type: 'code', lang: '', content: '~~~' }])
  })
})

describe('small formatters', () => {
  it('snippet flattens and truncates', () => {
    expect(snippet('a\n\n b', 10)).toBe('a b')
    expect(snippet('x'.repeat(20), 10)).toBe(`${'x'.repeat(9)}…`)
  })
  it('humanize', () => expect(humanize('fails_to_follow_instruction')).toBe('Fails to follow instruction'))
  it('formatDuration', () => {
    expect(formatDuration(5)).toBe('00:05')
    expect(formatDuration(125)).toBe('02:05')
    expect(formatDuration(3725)).toBe('1:02:05')
    expect(formatDuration(-3)).toBe('00:00')
  })
})
