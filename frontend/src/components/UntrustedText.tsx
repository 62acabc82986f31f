import { splitFences } from '../text'

/**
 * Untrusted text (prompts, model outputs) rendered as React text nodes only: whitespace kept
 * (pre-wrap), fenced code shown as code blocks. Nothing here is ever parsed as HTML or Markdown links.
 */
export function UntrustedText({ text, className }: { text: string; className?: string }) {
  const parts = splitFences(text)
  return (
    <div className={`untrusted ${className ?? ''}`}>
      {parts.map((p, i) =>
        p.type === 'code' ? (
          <figure key={i} className="code-block">
            {p.lang && <figcaption>{p.lang}</figcaption>}
            <pre>
              <code>{p.content}</code>
            </pre>
          </figure>
        ) : (
          <div key={i} className="pre-wrap">
            {p.content}
          </div>
        ),
      )}
      {parts.length === 0 && <div className="pre-wrap muted">(empty)</div>}
    </div>
  )
}
