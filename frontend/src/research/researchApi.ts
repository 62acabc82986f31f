/**
 * Typed client for the research endpoints (docs/api.md, "Research"): dataset snapshots, the model
 * registry and training jobs. Same transport as `api.ts` (session cookie + X-CSRFToken, `ApiError`).
 */
import { request, unpage } from '../api'

export type SnapshotKind = 'sft' | 'comparisons' | 'prompts'
export type ModelKind = 'base' | 'sft' | 'reward' | 'policy'
export type JobKind = 'sft' | 'reward' | 'dpo' | 'ppo' | 'generate' | 'evaluate'
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export const SNAPSHOT_KINDS: SnapshotKind[] = ['sft', 'comparisons', 'prompts']
export const MODEL_KINDS: ModelKind[] = ['base', 'sft', 'reward', 'policy']
export const JOB_KINDS: JobKind[] = ['sft', 'reward', 'dpo', 'ppo', 'generate', 'evaluate']

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
  artifact_path: string
  /** Trained models: {final: {...last metrics row}, summary: {...}, duration_s}; registered ones: anything. */
  metrics: Record<string, unknown>
  job: number | null
  created_at: string
}

export interface ModelInput {
  name: string
  kind: ModelKind
  artifact_path: string
  parent?: number | null
}

/** One logged training step: {step, loss, lr, progress, tokens_per_s, ...whatever the trainer logs}. */
export type MetricRow = Record<string, unknown>

export interface Job {
  id: number
  kind: JobKind
  status: JobStatus
  params: Record<string, unknown>
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
}

export interface JobDetail extends Job {
  output_dir: string
  metrics: MetricRow[]
  result: Record<string, unknown>
  log_tail: string
  model_versions: number[]
}

export interface JobInput {
  kind: JobKind
  params: Record<string, unknown>
  input_snapshot_ids: number[]
  input_model_ids: number[]
}

type Paged<T> = T[] | { results: T[] }

export const researchApi = {
  snapshots: async () => unpage((await request<Paged<Snapshot>>('GET', '/snapshots?limit=500')).data),
  createSnapshot: async (s: SnapshotInput) => (await request<Snapshot>('POST', '/snapshots', s)).data,

  models: async () => unpage((await request<Paged<ModelVersion>>('GET', '/models?limit=500')).data),
  createModel: async (m: ModelInput) => (await request<ModelVersion>('POST', '/models', m)).data,

  jobs: async () => unpage((await request<Paged<Job>>('GET', '/jobs?limit=200')).data),
  job: async (id: number) => (await request<JobDetail>('GET', `/jobs/${id}`)).data,
  createJob: async (j: JobInput) => (await request<JobDetail>('POST', '/jobs', j)).data,
  cancelJob: async (id: number) => (await request<JobDetail>('POST', `/jobs/${id}/cancel`)).data,
}

export function isLive(status: JobStatus): boolean {
  return status === 'queued' || status === 'running'
}
