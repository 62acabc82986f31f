/**
 * The "New iteration" form and the iteration pages as pure logic: which training stages a method runs,
 * the per-stage params (from `GET /job-kinds`, runner options left out: the iteration sets those), the
 * POST /iterations body, and how far an iteration has got.
 */
import { buildParams, type Errors, type FieldValue, fieldValue } from './jobForm'
import { formatNumber } from '../components/lineChart'
import { percent } from './format'
import type { Iteration, IterationInput, IterationTrigger, IterationTriggerInput, KindSpec, Method, ParamSpec, Stage } from './researchApi'

/** The stages of one round that run a job kind with params of their own, in order (no SFT when it is skipped). */
export function trainingStages(method: Method, skipSft = false): KindSpec['kind'][] {
  return [...(skipSft ? [] : ['sft']), 'reward', method, 'generate', 'evaluate']
}

/**
 * Whether a model of this kind may stand in for the SFT stage (`skip_sft`): one that is already fine-tuned. The
 * server also checks that every later stage accepts it, and says so under the checkbox if not.
 */
export function canStandInForSft(kind: string | undefined): boolean {
  return !!kind && kind !== 'base'
}

/** The params a stage's form shows: everything but the runner's options (output name, campaign, …). */
export function stageParams(spec: KindSpec): ParamSpec[] {
  return spec.params.filter((p) => p.group !== 'runner')
}

export interface IterationFormState {
  name: string
  sources: number[]
  /** Campaign id as the select's value ('' = none). */
  target: string
  /** Model id as the select's value. */
  base: string
  method: Method
  /** Use the (fine-tuned) base model as the round's SFT model instead of training one. */
  skipSft: boolean
  validFraction: string
  /** Field values per stage kind, per param name. */
  stages: Record<string, Record<string, FieldValue>>
}

/** Every stage's params at their suggested values. */
export function initialIterationState(kinds: KindSpec[]): IterationFormState {
  const stages: Record<string, Record<string, FieldValue>> = {}
  for (const k of kinds) stages[k.kind] = Object.fromEntries(stageParams(k).map((p) => [p.name, fieldValue(p, p.suggested)]))
  return { name: '', sources: [], target: '', base: '', method: 'ppo', skipSft: false, validFraction: '0.1', stages }
}

export type IterationBuild = { ok: true; body: IterationInput } | { ok: false; errors: Errors }

/**
 * The POST /iterations body. Per stage only the params the researcher changed from the suggestion are
 * sent: the server fills in the same suggested values, and a param it sets itself is never overridden
 * by a form that merely displayed it.
 */
export function buildIterationBody(kinds: KindSpec[], s: IterationFormState): IterationBuild {
  const errors: Errors = {}
  if (!s.sources.length) errors.source_campaign_ids = ['Pick at least one campaign to learn from.']
  if (!s.base) errors.base_model = ['Pick the model this round starts from.']
  const vf = Number(s.validFraction)
  if (!s.validFraction.trim() || !Number.isFinite(vf) || vf < 0 || vf >= 1) errors.valid_fraction = ['must be a number from 0 up to (not including) 1']
  const params: Record<string, Record<string, unknown>> = {}
  for (const kind of trainingStages(s.method, s.skipSft)) {
    const spec = kinds.find((k) => k.kind === kind)
    if (!spec) continue
    const changed = stageParams(spec).filter((p) => (s.stages[kind]?.[p.name] ?? fieldValue(p, p.suggested)) !== fieldValue(p, p.suggested))
    const built = buildParams(changed, s.stages[kind] ?? {})
    for (const [k, v] of Object.entries(built.errors)) errors[`params.${kind}.${k.slice('params.'.length)}`] = v
    if (Object.keys(built.params).length) params[kind] = built.params
  }
  if (Object.keys(errors).length) return { ok: false, errors }
  const body: IterationInput = {
    source_campaign_ids: s.sources,
    target_campaign_id: s.target ? Number(s.target) : null,
    base_model: Number(s.base),
    method: s.method,
    valid_fraction: vf,
  }
  if (s.skipSft) body.skip_sft = true
  if (s.name.trim()) body.name = s.name.trim()
  if (Object.keys(params).length) body.params = params
  return { ok: true, body }
}

/** Error keys the form places by its fields (stage params as `params.<kind>.<name>`). */
export function iterationFields(kinds: KindSpec[]): string[] {
  const stageKeys = kinds.flatMap((k) => [`params.${k.kind}`, ...stageParams(k).map((p) => `params.${k.kind}.${p.name}`)])
  return ['name', 'source_campaign_ids', 'target_campaign_id', 'base_model', 'skip_sft', 'method', 'valid_fraction', 'params', ...stageKeys]
}

/** "3 of 7 stages done · reward running" (a skipped stage is not counted: nothing runs for it) */
export function stageProgress(it: Pick<Iteration, 'stages' | 'current_stage' | 'status'>): { done: number; total: number; text: string } {
  const done = it.stages.filter((x) => x.status === 'succeeded').length
  const total = it.stages.filter((x) => x.status !== 'skipped').length
  const current = it.stages.find((x) => x.name === it.current_stage)
  const tail = current && current.status !== 'succeeded' && current.status !== 'pending' ? ` · ${current.name} ${current.status}` : ''
  return { done, total, text: `${done} of ${total} stages done${tail}` }
}

/** A stage's key metric: fractions (accuracy, win rate) as percentages, the rest as plain numbers. */
export function stageMetricText(metric: Stage['metric']): string {
  if (!metric || typeof metric.value !== 'number') return '—'
  const fraction = /accuracy|win_rate/.test(metric.name) && metric.value >= 0 && metric.value <= 1
  return `${metric.name.replace(/_/g, ' ')} ${fraction ? percent(metric.value, 1) : formatNumber(metric.value)}`
}

export function iterationLive(it: Pick<Iteration, 'status'>): boolean {
  return it.status === 'running'
}

export function canResume(it: Pick<Iteration, 'status'>): boolean {
  return it.status === 'failed' || it.status === 'cancelled'
}

export interface TriggerFormState {
  /** '' = off. */
  everyRankings: string
  method: Method
  /** Model id as the select's value ('' = the campaign's sampling policy). */
  base: string
  /** Rounds that start from a fine-tuned model use it as their SFT model. */
  skipSft: boolean
}

/** The form's fields from a campaign's current trigger. */
export function triggerState(t: IterationTrigger): TriggerFormState {
  return {
    everyRankings: t.every_rankings === null ? '' : String(t.every_rankings),
    method: t.template.method ?? 'ppo',
    base: t.template.base_model != null ? String(t.template.base_model) : '',
    skipSft: !!t.template.skip_sft,
  }
}

/** The PUT body: blank turns the trigger off; otherwise a whole number of rankings, at least 1. */
export function buildTriggerBody(s: TriggerFormState): { ok: true; body: IterationTriggerInput } | { ok: false; errors: Errors } {
  const t = s.everyRankings.trim()
  if (t && !(/^\d+$/.test(t) && Number(t) >= 1)) return { ok: false, errors: { every_rankings: ['a whole number of rankings (at least 1), or blank to turn it off'] } }
  return { ok: true, body: { every_rankings: t ? Number(t) : null, method: s.method, base_model: s.base ? Number(s.base) : null, skip_sft: s.skipSft } }
}
