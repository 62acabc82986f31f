/**
 * Typed client for the human-evaluation endpoints (docs/api.md, "Human evaluation"). Same transport as
 * `api.ts` (session cookie + X-CSRFToken, `ApiError`).
 */
import { request, unpage } from '../api'

export interface RateRow {
  policy: number
  comparisons: number
  win_rate: number | null
  low: number | null
  high: number | null
}

export interface Ref {
  id: number
  name: string
}

export interface Lineage {
  kind: string
  parent: Ref | null
  reward_model: Ref | null
  job: number | null
  iteration: Ref | null
  snapshots: (Ref & { kind: string })[]
}

export interface LeaderboardRow {
  policy: number
  name: string
  rank: number
  strength: number
  low: number
  high: number
  rank_low: number
  rank_high: number
  win_rate: RateRow
  categories: Record<string, RateRow>
  lineage: Lineage
}

export interface PairRow {
  a: number
  b: number
  comparisons: number
  wins_a: number
  wins_b: number
  ties: number
  identical: number
  win_rate_a: number | null
  low: number | null
  high: number | null
  separated: boolean
  more_comparisons_needed: number | null
  judge: { comparisons: number; win_rate_a: number; low: number; high: number; disagreement: number } | null
}

export interface Leaderboard {
  evaluations: number[]
  comparisons: number
  ties_rule: string
  confidence: number
  policies: LeaderboardRow[]
  pairs: PairRow[]
  judge_disagreement: number | null
}

export interface Evaluation {
  id: number
  name: string
  status: 'generating' | 'labeling' | 'failed'
  policies: Ref[]
  judge: Ref | null
  error: string
  created_at: string
}

export const evaluationApi = {
  /** One evaluation's board, or every labelling evaluation pooled (`evaluationId` null). */
  leaderboard: async (evaluationId: number | null) =>
    (await request<Leaderboard>('GET', evaluationId === null ? '/leaderboard' : `/leaderboard?evaluation=${evaluationId}`)).data,
  evaluations: async () =>
    unpage((await request<Evaluation[] | { results: Evaluation[] }>('GET', '/evaluations?limit=200')).data),
}
