/**
 * The "New job" form as pure logic: which inputs each job kind takes (docs/api.md, POST /jobs), the
 * params JSON editor (common fields edit the JSON text), and the request body with early, friendly
 * errors keyed like the API's (`input_snapshot_ids`, `input_model_ids`, `params`). The server and the
 * training CLI stay the judges: this only catches what is obviously missing.
 */
import type { JobInput, JobKind, ModelKind, SnapshotKind } from './researchApi'

export interface ModelSlot {
  key: string
  label: string
  kinds: ModelKind[]
  /** Several models (checkboxes) instead of one (a select). */
  multiple: boolean
}

export interface KindRule {
  title: string
  snapshotKinds: SnapshotKind[]
  models: ModelSlot[]
  help: string
}

const POLICY: ModelKind[] = ['base', 'sft', 'policy']

export const JOB_RULES: Record<JobKind, KindRule> = {
  sft: {
    title: 'SFT',
    snapshotKinds: ['sft'],
    models: [{ key: 'model', label: 'Start from model', kinds: POLICY, multiple: false }],
    help: 'Supervised fine-tuning on demonstrations: an sft snapshot and one base, sft or policy model.',
  },
  reward: {
    title: 'Reward model',
    snapshotKinds: ['comparisons'],
    models: [{ key: 'model', label: 'Start from model', kinds: ['base', 'sft'], multiple: false }],
    help: 'A reward model trained on the rankings: a comparisons snapshot and one base or sft model.',
  },
  dpo: {
    title: 'DPO',
    snapshotKinds: ['comparisons'],
    models: [{ key: 'policy', label: 'Policy', kinds: POLICY, multiple: false }],
    help: 'Direct preference optimisation on the rankings: a comparisons snapshot and one policy.',
  },
  ppo: {
    title: 'PPO',
    snapshotKinds: ['prompts'],
    models: [
      { key: 'policy', label: 'Policy', kinds: POLICY, multiple: false },
      { key: 'reward', label: 'Reward model', kinds: ['reward'], multiple: false },
    ],
    help: 'PPO(-ptx) against a reward model: a prompts snapshot, one policy and one reward model.',
  },
  generate: {
    title: 'Generate',
    snapshotKinds: ['prompts'],
    models: [{ key: 'policy', label: 'Policy', kinds: POLICY, multiple: false }],
    help: "Sample K outputs per prompt with a policy: they become new ranking tasks in the prompts' campaigns (or only in params.campaign).",
  },
  evaluate: {
    title: 'Evaluate',
    snapshotKinds: ['comparisons', 'prompts'],
    models: [{ key: 'models', label: 'Models to evaluate', kinds: ['reward', ...POLICY], multiple: true }],
    help: 'A comparisons snapshot and a reward model give its pairwise accuracy; a prompts snapshot, a reward model and two policies give the win rate of the newer policy over the older.',
  },
}

/** Params with an input of their own above the JSON editor. */
export const COMMON_PARAMS = [
  { key: 'max_steps', label: 'Max steps', step: '1', min: 1 },
  { key: 'learning_rate', label: 'Learning rate', step: 'any', min: 0 },
  { key: 'batch_size', label: 'Batch size', step: '1', min: 1 },
] as const

export type ParamsParse = { ok: true; value: Record<string, unknown> } | { ok: false; error: string }

/** The editor's text as a params object: blank = {}, anything but a JSON object is an error. */
export function parseParams(text: string): ParamsParse {
  if (!text.trim()) return { ok: true, value: {} }
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    return { ok: false, error: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'must be a JSON object, e.g. {"max_steps": 200}' }
  return { ok: true, value: v as Record<string, unknown> }
}

/**
 * The text with `key` set from an input's raw value (a number when it reads as one, else the string;
 * blank removes the key), pretty-printed. null when the text is not a JSON object (nothing to edit).
 */
export function setParam(text: string, key: string, raw: string): string | null {
  const parsed = parseParams(text)
  if (!parsed.ok) return null
  const next = { ...parsed.value }
  const t = raw.trim()
  if (!t) delete next[key]
  else next[key] = t !== '' && Number.isFinite(Number(t)) ? Number(t) : t
  return Object.keys(next).length ? JSON.stringify(next, null, 2) : '{}'
}

/** The value a common-field input shows for `key` ('' when absent or not editable). */
export function paramValue(text: string, key: string): string {
  const parsed = parseParams(text)
  if (!parsed.ok) return ''
  const v = parsed.value[key]
  return typeof v === 'number' || typeof v === 'string' ? String(v) : ''
}

export interface JobFormState {
  kind: JobKind
  snapshotId: number | null
  /** Chosen model ids per slot key. */
  models: Record<string, number[]>
  paramsText: string
}

export type JobBuild = { ok: true; body: JobInput } | { ok: false; errors: Record<string, string[]> }

export function buildJobBody(s: JobFormState): JobBuild {
  const rule = JOB_RULES[s.kind]
  const errors: Record<string, string[]> = {}
  if (s.snapshotId === null) errors.input_snapshot_ids = [`Pick a ${rule.snapshotKinds.join(' or ')} snapshot.`]
  const modelIds: number[] = []
  for (const slot of rule.models) {
    const ids = s.models[slot.key] ?? []
    if (!ids.length) (errors.input_model_ids ??= []).push(`Pick ${slot.multiple ? 'at least one model' : 'a model'} for “${slot.label}”.`)
    modelIds.push(...ids)
  }
  const params = parseParams(s.paramsText)
  if (!params.ok) errors.params = [params.error]
  if (Object.keys(errors).length || !params.ok) return { ok: false, errors }
  return {
    ok: true,
    body: {
      kind: s.kind,
      params: params.value,
      input_snapshot_ids: s.snapshotId === null ? [] : [s.snapshotId],
      input_model_ids: [...new Set(modelIds)],
    },
  }
}
