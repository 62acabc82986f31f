import { Dialog } from './Dialog'

const GROUPS: { title: string; keys: [string, string][] }[] = [
  {
    title: 'Everywhere',
    keys: [
      ['?', 'Show or hide this help'],
      ['Esc', 'Close a dialog'],
      ['Ctrl/⌘ + Enter', 'Submit the task (also from inside a text area)'],
      ['g', 'Show or hide the guidelines'],
    ],
  },
  {
    title: 'Rating outputs',
    keys: [
      ['j / k', 'Focus the next / previous output'],
      ['1 … 7', 'Rate the focused output (1 = very bad, 7 = excellent)'],
      ['Tab', 'Move into the focused output’s rating, flags and note'],
      ['Esc (in a note)', 'Back to the output, where 1 … 7 and j / k work again'],
      ['b', 'Jump to the ranking board'],
    ],
  },
  {
    title: 'Ranking board',
    keys: [
      ['↑ / ↓', 'Focus the previous / next output on the board'],
      ['Home / End', 'Focus the first / last output on the board'],
      ['Shift + ↑ / ↓', 'Move the output up / down one rank (out of a tie, or past the group next to it)'],
      ['Enter', 'Put an unranked output on the board, as the lowest rank'],
      ['Alt + ↑ / ↓ (or t)', 'Tie with the group above / below (t: above)'],
      ['s', 'Split the output out of its tie (just below it)'],
      ['Delete / Backspace', 'Send the output back to “Not ranked yet”'],
    ],
  },
]

export function ShortcutsHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} title="Keyboard shortcuts" className="shortcuts">
      <div className="shortcut-groups">
        {GROUPS.map((g) => (
          <section key={g.title}>
            <h3>{g.title}</h3>
            <dl>
              {g.keys.map(([k, what]) => (
                <div key={k} className="shortcut-row">
                  <dt>
                    <kbd>{k}</kbd>
                  </dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
          </section>
        ))}
      </div>
      <p className="muted">Shortcuts other than Ctrl/⌘ + Enter are ignored while you are typing in a text field.</p>
    </Dialog>
  )
}
