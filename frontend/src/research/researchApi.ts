/**
 * Typed client for the research endpoints (docs/api.md, "Research"): dataset snapshots, the model
 * registry, job kinds (GET /job-kinds), estimates, training jobs and iterations. Same transport as `api.ts`
 * (session cookie + X-CSRFToken, `ApiError`).
 */
import { request, unpage } from '../api'

export type SnapshotKind = 'sft' | 'comparisons' | 'prompts'
export type ModelKind = 'base' | 'sft' | 'reward' | 'policy'
/** Whatever GET /job-kinds lists (sft, reward, ppo, …), plus `export` (an iteration's snapshot stage): never hard-coded here. */
export type JobKind = string
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export const SNAPSHOT_KINDS: SnapshotKind[] = ['sft', 'comparisons', 'prompts']
export const MODEL_KINDS: ModelKind[] = ['base', 'sft', 'reward', 'policy']

export interface Snapshot {
  id: number
  name: string
  kind: SnapshotKind
  campaigns: number[]
  filters: Record<string, unknown>
  /** Rows per split, e.g. {"train": 90, "valid": 10}. */
  split: Record<string, number>
  rows: number
  sha256: string
  path: string
  created_by: string | null
  created_at: string
}

export interface SnapshotInput {
  kind: SnapshotKind
  campaign_ids: number[]
  name?: string
  valid_fraction?: number
  seed?: number
}

export interface ModelVersion {
  id: number
  name: string
  kind: ModelKind
  parent: number | null
  reward_model: number | null
  /** Shown to staff only (the API leaves it out for researchers). */
  artifact_path?: string
  /** Trained models: {final: {...last metrics row}, summary: {...}, duration_s}; registered ones: anything. */
  metrics: Record<string, unknown>
  job: number | null
  created_at: string
  /** The iteration whose job made it (null: registered by hand or trained outside an iteration). */
  iteration?: number | null
  /** The snapshots its job read. */
  snapshots?: number[]
}

export interface ModelInput {
  name: string
  kind: ModelKind
  artifact_path: string
  parent?: number | null
}

// ---- job kinds (GET /job-kinds: one definition per kind, served from the training configs) -------

export type ParamType = 'integer' | 'number' | 'boolean' | 'string' | 'choice' | 'campaign'
export type ParamGroup = 'basic' | 'advanced' | 'runner'

export interface InputSpec {
  name: string
  label: string
  type: 'snapshot' | 'model'
  /** Snapshot kinds or model kinds this input accepts. */
  kinds: string[]
  required: boolean
  help: string
}

export interface ParamSpec {
  name: string
  type: ParamType
  choices: unknown[] | null
  default: unknown
  nullable: boolean
  /** What the form prefills: finishes in minutes on a CPU. */
  suggested: unknown
  help: string
  group: ParamGroup
}

export interface KindSpec {
  kind: JobKind
  title: string
  description: string
  inputs: InputSpec[]
  params: ParamSpec[]
  notes: string
}

/** An input's value in a request: an id, or a unique name. */
export type InputRef = number | string

export interface JobInput {
  kind: JobKind
  inputs: Record<string, InputRef>
  params: Record<string, unknown>
}

export interface Estimate {
  seconds: number | null
  steps?: number | null
  examples?: number | null
  tokens?: number | null
  model_params?: number | null
  basis?: string
  warning?: string | null
}

/** One logged training step: {step, loss, lr, progress, tokens_per_s, ...whatever the trainer logs}. */
export type MetricRow = Record<string, unknown>

export interface NamedInput {
  type: 'snapshot' | 'model'
  id: number
  name: string
}

export interface Job {
  id: number
  kind: JobKind
  status: JobStatus
  params: Record<string, unknown>
  /** The job's inputs by the CLI's field name: {"model": {type, id, name}, "data": {...}}. */
  inputs?: Record<string, NamedInput>
  input_snapshots: number[]
  input_models: number[]
  /** 0–1 */
  progress: number
  attempts: number
  cancel_requested: boolean
  error: string
  created_by: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  heartbeat_at: string | null
  /** null until started; while running, the time so far. */
  duration_s?: number | null
  iteration?: number | null
  stage?: string | null
}

export interface JobDetail extends Job {
  output_dir: string
  metrics: MetricRow[]
  result: Record<string, unknown>
  log_tail: string
  model_versions: number[]
  estimate?: Estimate | null
}

// ---- iterations (one InstructGPT round) ----------------------------------------------------------

export type IterationStatus = 'running' | 'succeeded' | 'failed' | 'cancelled'
/** `skipped`: the SFT stage of an iteration whose base model is its SFT model (`skip_sft`). */
export type StageStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped'
export type Method = 'ppo' | 'dpo'

export interface ModelRef {
  id: number
  name: string
}

export interface Stage {
  name: string
  status: StageStatus
  job: number | null
  started_at: string | null
  finished_at: string | null
  duration_s: number | null
  metric: { name: string; value: number } | null
  error: string
}

export interface WinRate {
  value: number
  ci_low: number | null
  ci_high: number | null
  /** The model the new policy was compared with (policy A of the evaluate stage). */
  against: number | null
  wins_a?: number | null
  wins_b?: number | null
  ties?: number | null
  identical?: number | null
  n_pairs?: number | null
}

export interface Iteration {
  id: number
  name: string
  status: IterationStatus
  method: Method
  source_campaigns: number[]
  target_campaign: number | null
  base_model: ModelRef
  /** The base model (an sft or policy model) is this round's SFT model: no SFT job runs. */
  skip_sft: boolean
  sft_model: ModelRef | null
  reward_model: ModelRef | null
  policy_model: ModelRef | null
  snapshots: Record<string, number | null>
  current_stage: string | null
  stages: Stage[]
  win_rate: WinRate | null
  error: string
  created_by: string | null
  created_at: string
  finished_at: string | null
}

/** A campaign's automatic iteration: the next round starts after `every_rankings` new rankings (null: off). */
export interface IterationTrigger {
  every_rankings: number | null
  template: { method?: Method; base_model?: number; skip_sft?: boolean; params?: Record<string, Record<string, unknown>> }
}

export interface IterationTriggerInput {
  every_rankings: number | null
  method: Method
  base_model?: InputRef | null
  skip_sft?: boolean
}

export interface IterationInput {
  name?: string
  source_campaign_ids: number[]
  target_campaign_id: number | null
  base_model: InputRef
  method: Method
  skip_sft?: boolean
  valid_fraction?: number
  params?: Record<string, Record<string, unknown>>
}

type Paged<T> = T[] | { results: T[] }

export const researchApi = {
  snapshots: async () => unpage((await request<Paged<Snapshot>>('GET', '/snapshots?limit=500')).data),
  createSnapshot: async (s: SnapshotInput) => (await request<Snapshot>('POST', '/snapshots', s)).data,

  models: async () => unpage((await request<Paged<ModelVersion>>('GET', '/models?limit=500')).data),
  createModel: async (m: ModelInput) => (await request<ModelVersion>('POST', '/models', m)).data,

  jobKinds: async () => (await request<{ kinds: KindSpec[] }>('GET', '/job-kinds')).data.kinds,
  estimate: async (j: JobInput) => (await request<Estimate>('POST', '/jobs/estimate', j)).data,
  jobs: async () => unpage((await request<Paged<Job>>('GET', '/jobs?limit=200')).data),
  job: async (id: number) => (await request<JobDetail>('GET', `/jobs/${id}`)).data,
  /** `idempotencyKey`: one per submission attempt, the same on a retry (the server then returns the same job). */
  createJob: async (j: JobInput, idempotencyKey: string) =>
    (await request<JobDetail>('POST', '/jobs', j, { 'Idempotency-Key': idempotencyKey })).data,
  cancelJob: async (id: number) => (await request<JobDetail>('POST', `/jobs/${id}/cancel`)).data,

  iterations: async () => unpage((await request<Paged<Iteration>>('GET', '/iterations?limit=200')).data),
  iteration: async (id: number) => (await request<Iteration>('GET', `/iterations/${id}`)).data,
  createIteration: async (i: IterationInput) => (await request<Iteration>('POST', '/iterations', i)).data,
  cancelIteration: async (id: number) => (await request<Iteration>('POST', `/iterations/${id}/cancel`)).data,
  resumeIteration: async (id: number) => (await request<Iteration>('POST', `/iterations/${id}/resume`)).data,
  iterationTrigger: async (campaignId: number) => (await request<IterationTrigger>('GET', `/campaigns/${campaignId}/iteration-trigger`)).data,
  setIterationTrigger: async (campaignId: number, t: IterationTriggerInput) =>
    (await request<IterationTrigger>('PUT', `/campaigns/${campaignId}/iteration-trigger`, t)).data,
}

export function isLive(status: JobStatus): boolean {
  return status === 'queued' || status === 'running'
}
