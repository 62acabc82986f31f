import { useState } from 'react'
import { MODEL_KINDS, researchApi, type ModelKind, type ModelVersion } from './researchApi'
import { useApiForm } from './useApiForm'
import { ErrorAlert, FieldErrors } from './widgets'

const FIELDS = ['name', 'kind', 'artifact_path', 'parent'] as const

/** Register an existing model (a base model, usually): name, kind, a local HF folder or registered name. */
export function ModelForm({ models, onCreated }: { models: ModelVersion[]; onCreated: (m: ModelVersion) => void }) {
  const [name, setName] = useState('')
  const [kind, setKind] = useState<ModelKind>('base')
  const [path, setPath] = useState('')
  const [parent, setParent] = useState('')
  const { busy, errors, general, run } = useApiForm(FIELDS)

  const submit = () =>
    run(async () => {
      const m = await researchApi.createModel({ name: name.trim(), kind, artifact_path: path.trim(), parent: parent ? Number(parent) : null })
      setName('')
      setPath('')
      setParent('')
      onCreated(m)
    })

  return (
    <form
      className="panel register-form"
      aria-labelledby="register-title"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <h2 id="register-title">Register a model</h2>
      <ErrorAlert error={general} />
      <div className="form-row register-row">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} placeholder="e.g. smollm2-base" />
          <FieldErrors errors={errors.name} />
        </label>
        <label className="field">
          <span>Kind</span>
          <select value={kind} onChange={(e) => setKind(e.target.value as ModelKind)}>
            {MODEL_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
          <FieldErrors errors={errors.kind} />
        </label>
        <label className="field grow">
          <span>Artifact path</span>
          <input value={path} onChange={(e) => setPath(e.target.value)} required maxLength={1000} list="known-models" placeholder="a local HF folder, tiny or smollm2-135m-instruct" />
          <datalist id="known-models">
            <option value="tiny" />
            <option value="smollm2-135m-instruct" />
          </datalist>
          <FieldErrors errors={errors.artifact_path} />
        </label>
        <label className="field">
          <span>Parent (optional)</span>
          <select value={parent} onChange={(e) => setParent(e.target.value)}>
            <option value="">none</option>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({m.kind})
              </option>
            ))}
          </select>
          <FieldErrors errors={errors.parent} />
        </label>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Registering…' : 'Register model'}
        </button>
      </div>
      <p className="muted small">Trained models are registered by their jobs, with their lineage.</p>
    </form>
  )
}
