import Markdown, { defaultUrlTransform } from 'react-markdown'

/**
 * Markdown for campaign guidelines. react-markdown builds React elements (never innerHTML); raw HTML
 * in the source is shown as text (no rehype-raw), and URLs pass through its default transform,
 * which blanks javascript:, data: and other unsafe protocols.
 */
export function SafeMarkdown({ source }: { source: string }) {
  return (
    <div className="markdown">
      <Markdown
        urlTransform={defaultUrlTransform}
        components={{
          a: ({ node: _node, href, children, ...rest }) =>
            href ? (
              <a {...rest} href={href} target="_blank" rel="noopener noreferrer nofollow">
                {children}
              </a>
            ) : (
              <span>{children}</span>
            ),
        }}
      >
        {source}
      </Markdown>
    </div>
  )
}
