import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react'
import { useLocation } from 'react-router-dom'
import { humanize } from './format'
import { type Job, researchApi, type ModelVersion, type Snapshot } from './researchApi'

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** Load something on mount (and when `deps` change); `reload()` fetches it again, keeping the old data meanwhile. */
export function useResource<T>(load: () => Promise<T>, deps: DependencyList) {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const reload = useCallback(async () => {
    try {
      setData(await load())
      setError(null)
    } catch (e) {
      setError(errorText(e))
    }
  }, deps)
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, reload, setData }
}

/**
 * Call `fn` every `ms` while `active` and the tab is visible; a tab coming back into view refreshes at
 * once. A call still in flight is never doubled up (a slow server is not piled on).
 */
export function usePoll(fn: () => Promise<unknown> | void, active: boolean, ms = 2000) {
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    if (!active) return
    let timer: number | undefined
    let busy = false
    const tick = () => {
      if (busy) return
      busy = true
      Promise.resolve(ref.current()).finally(() => (busy = false))
    }
    const start = () => {
      if (timer === undefined && document.visibilityState === 'visible') timer = window.setInterval(tick, ms)
    }
    const stop = () => {
      if (timer !== undefined) window.clearInterval(timer)
      timer = undefined
    }
    const onVisibility = () => {
      if (document.visibilityState === 'visible') {
        tick()
        start()
      } else stop()
    }
    start()
    document.addEventListener('visibilitychange', onVisibility)
    return () => {
      stop()
      document.removeEventListener('visibilitychange', onVisibility)
    }
  }, [active, ms])
}

/** Snapshots and models by id, for naming a job's inputs and a model's lineage. */
export function useRegistry() {
  const snapshots = useResource(() => researchApi.snapshots(), [])
  const models = useResource(() => researchApi.models(), [])
  const snapshotById = new Map<number, Snapshot>((snapshots.data ?? []).map((s) => [s.id, s]))
  const modelById = new Map<number, ModelVersion>((models.data ?? []).map((m) => [m.id, m]))
  return { snapshots, models, snapshotById, modelById, error: snapshots.error ?? models.error }
}

/** The element id in the URL's #hash, scrolled into view once `ready` (a list has rendered). */
export function useHashTarget(ready: boolean): string {
  const hash = decodeURIComponent(useLocation().hash.slice(1))
  useEffect(() => {
    if (ready && hash) document.getElementById(hash)?.scrollIntoView({ block: 'center' })
  }, [ready, hash])
  return hash
}

export interface JobInputView {
  key: string
  label: string
  type: 'snapshot' | 'model'
  id: number
  name: string
}

/**
 * A job's inputs by name: the API's named `inputs` ({"model": {type, id, name}}) when present, else the
 * plain id lists of older jobs, named from the registry.
 */
export function jobInputs(job: Job, registry: ReturnType<typeof useRegistry>): JobInputView[] {
  if (job.inputs && Object.keys(job.inputs).length) {
    return Object.entries(job.inputs).map(([key, v]) => ({ key, label: humanize(key), type: v.type, id: v.id, name: v.name }))
  }
  return [
    ...job.input_snapshots.map((id) => ({ key: `s${id}`, label: 'Snapshot', type: 'snapshot' as const, id, name: registry.snapshotById.get(id)?.name ?? `snapshot #${id}` })),
    ...job.input_models.map((id) => ({ key: `m${id}`, label: 'Model', type: 'model' as const, id, name: registry.modelById.get(id)?.name ?? `model #${id}` })),
  ]
}
