import { useState } from 'react'
import { formErrors } from './apiErrors'

/**
 * The state every research form keeps around one POST: busy while it runs, the API's errors split into
 * the fields the form shows (`fields`) and one general message.
 */
export function useApiForm(fields: readonly string[]) {
  const [busy, setBusy] = useState(false)
  const [errors, setErrors] = useState<Record<string, string[]>>({})
  const [general, setGeneral] = useState<string | null>(null)

  /** Clear old errors, run `action`, and on failure place its errors; resolves either way. */
  async function run(action: () => Promise<void>) {
    setBusy(true)
    setErrors({})
    setGeneral(null)
    try {
      await action()
    } catch (e) {
      const f = formErrors(e, fields)
      setErrors(f.fields)
      setGeneral(f.general)
    } finally {
      setBusy(false)
    }
  }

  return { busy, errors, general, setErrors, setGeneral, run }
}
