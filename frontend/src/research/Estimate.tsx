import { useEffect, useState } from 'react'
import { formErrors } from './apiErrors'
import { estimateView } from './format'
import { type Estimate, type JobInput, researchApi } from './researchApi'

type EstimateState = { state: 'idle' } | { state: 'loading' } | { state: 'done'; estimate: Estimate } | { state: 'error'; message: string }

/**
 * `POST /jobs/estimate` for `body`, 600 ms after it last changed (typing in a field does not fire one
 * request per key); an answer for an older body is dropped. null body = nothing to estimate yet.
 */
export function useEstimate(body: JobInput | null, delayMs = 600): EstimateState {
  const [result, setResult] = useState<EstimateState>({ state: 'idle' })
  const key = body ? JSON.stringify(body) : ''
  useEffect(() => {
    if (!body) {
      setResult({ state: 'idle' })
      return
    }
    let current = true
    setResult((r) => (r.state === 'done' ? r : { state: 'loading' }))
    const timer = window.setTimeout(() => {
      researchApi.estimate(body).then(
        (estimate) => current && setResult({ state: 'done', estimate }),
        (e: unknown) => current && setResult({ state: 'error', message: formErrors(e, []).general ?? 'could not estimate' }),
      )
    }, delayMs)
    return () => {
      current = false
      window.clearTimeout(timer)
    }
    // `key` is the body's content: a new object with the same content must not re-estimate.
  }, [key, delayMs])
  return result
}

/** The live run-time estimate beside the form; its warning (e.g. "would take about 3 h") stands out. */
export function EstimatePanel({ estimate, waitingFor }: { estimate: EstimateState; waitingFor: string | null }) {
  return (
    <section className="panel estimate" aria-labelledby="estimate-title">
      <h2 id="estimate-title">Run-time estimate</h2>
      <div aria-live="polite">
        {estimate.state === 'idle' && <p className="muted small">{waitingFor ?? 'Fill in the form to see how long the job would take.'}</p>}
        {estimate.state === 'loading' && <p className="muted small">Estimating…</p>}
        {estimate.state === 'error' && <p className="muted small">No estimate: {estimate.message}</p>}
        {estimate.state === 'done' && <EstimateBody estimate={estimate.estimate} />}
      </div>
    </section>
  )
}

function EstimateBody({ estimate }: { estimate: Estimate }) {
  const v = estimateView(estimate)
  return (
    <>
      {v.warning && (
        <p className="warning estimate-warning" role="alert">
          <strong>Warning:</strong> {v.warning}
        </p>
      )}
      <p className="estimate-headline">{v.headline}</p>
      {v.facts.length > 0 && <p className="small">{v.facts.join(' · ')}</p>}
      {v.basis && <p className="muted small">{v.basis}</p>}
    </>
  )
}
