// Label-quality endpoints (docs/api.md, "Label quality"). Kept beside the admin pages that use them.
import { request } from '../api'

/** One reported number with its 95 % bootstrap CI over tasks and the data behind it. */
export interface Figure {
  value: number | null
  ci_low: number | null
  ci_high: number | null
  n_tasks: number
  n_items: number
}

export const FIGURE_NAMES = ['pairwise_agreement', 'kendall_tau_b', 'alpha_likert', 'alpha_preferences', 'gold_agreement'] as const
export type FigureName = (typeof FIGURE_NAMES)[number]
export type Figures = Record<FigureName, Figure>

/** A stored report's state: when it was computed, whether labels arrived since, whether a worker is on it. */
export interface AsOf {
  as_of: string | null
  stale: boolean
  computing: boolean
}

/** While a large campaign's first report is computed the server answers 202 with only the `AsOf` fields. */
export type Stored<T> = (T & AsOf) | (AsOf & { detail: string; computing: true })

export const isComputed = <T extends object>(r: Stored<T>): r is T & AsOf => r.as_of !== null && !('detail' in r)

export interface AgreementReport {
  campaign: number
  n_boot: number
  level: number
  overall: Figures
  by_category: (Figures & { category: string })[]
  by_week: (Figures & { week: string })[]
  labelers: { labeler_id: number; username: string; labels: number; pairwise_agreement: Figure; kendall_tau_b: Figure; gold_agreement: Figure }[]
}

export const SIGNALS = ['position_bias', 'speed', 'straight_lining', 'low_agreement'] as const
export type Signal = (typeof SIGNALS)[number]

export interface LabelerSignals {
  labeler_id: number
  username: string | null
  labels: number
  flags: Signal[]
  signals: Record<Signal, Record<string, unknown> & { flagged: boolean; examples: number[] }>
}

export interface ReviewLabel {
  assignment_id: number
  labeler_id: number
  username: string
  ranking: number[][]
  likert: Record<string, number>
  seconds_spent: number | null
  labeler_flags: Signal[]
  review: { decision: string; reason: string; reviewer: string; at: string } | null
}

export interface ReviewItem {
  task_id: number
  prompt: { role: string; content: string }[]
  completions: { id: number; text: string }[]
  consensus: number[][]
  agreement: number | null
  labels: ReviewLabel[]
}

export interface ReviewFilter {
  signal?: Signal | ''
  maxAgreement?: number | null
}

export const qualityApi = {
  agreement: async (id: number) => (await request<Stored<AgreementReport>>('GET', `/campaigns/${id}/agreement?n_boot=500`)).data,
  labelers: async (id: number) =>
    (await request<Stored<{ labelers: LabelerSignals[]; median_seconds: number | null }>>('GET', `/campaigns/${id}/labelers?n_boot=500`)).data,
  /** Recompute both reports now (200: done; 202: a worker is on it). */
  refresh: async (id: number) => (await request<{ detail: string }>('POST', `/campaigns/${id}/quality/refresh?n_boot=500`)).status,
  reviewQueue: async (id: number, f: ReviewFilter) => {
    const q = new URLSearchParams({ limit: '10' })
    if (f.signal) q.set('signal', f.signal)
    if (f.maxAgreement != null) q.set('max_agreement', String(f.maxAgreement))
    return (await request<{ count: number; items: ReviewItem[] }>('GET', `/campaigns/${id}/review-queue?${q}`)).data
  },
  review: async (assignmentId: number, decision: 'accept' | 'reject', reason: string, signal?: Signal | '') =>
    (await request('POST', `/labels/${assignmentId}/review`, { decision, reason, ...(signal ? { signal } : {}) })).data,
}
