import { KIND_CHOICES, type KindChoice } from './kindChoice'

/** "Any task / Demonstrations / Rankings": which kind of task Start labeling and Next task ask for. */
export function KindChooser({ value, onChange }: { value: KindChoice; onChange: (choice: KindChoice) => void }) {
  return (
    <fieldset className="kind-chooser">
      <legend>Work on</legend>
      {KIND_CHOICES.map((c) => (
        <label key={c.value} className={`segment ${value === c.value ? 'checked' : ''}`}>
          <input type="radio" name="task-kind" value={c.value} checked={value === c.value} onChange={() => onChange(c.value)} />
          {c.label}
        </label>
      ))}
    </fieldset>
  )
}
