import type { Message } from '../api'
import { UntrustedText } from './UntrustedText'

const ROLE_LABEL: Record<string, string> = { user: 'User', assistant: 'Assistant', system: 'System' }

/** The prompt: one turn for a plain prompt, a conversation for a multi-turn one. */
export function Conversation({ messages }: { messages: Message[] }) {
  return (
    <ol className="conversation" aria-label="Prompt">
      {messages.map((m, i) => (
        <li key={i} className={`turn turn-${m.role}`}>
          <div className="turn-role">{ROLE_LABEL[m.role] ?? m.role}</div>
          <UntrustedText text={m.content} />
        </li>
      ))}
    </ol>
  )
}
