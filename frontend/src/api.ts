/**
 * Typed client for the REST API (docs/api.md). Session cookie + X-CSRFToken (read fresh from the
 * `csrftoken` cookie on every unsafe request: Django rotates it at login).
 */

export const API_BASE = '/api/v1'

// ---- Types (the contract in docs/api.md) ----------------------------------------------------------

export type Role = 'labeler' | 'campaign_admin' | 'researcher'
export type TaskKind = 'demonstration' | 'ranking'
export type CampaignStatus = 'draft' | 'active' | 'paused' | 'archived'

export interface Me {
  id: number
  username: string
  roles: Role[]
  is_staff: boolean
  counts: { today: number; total: number; demonstrations?: number; rankings?: number; skipped?: number }
  campaigns: { id: number; name: string; status: CampaignStatus; open_tasks: number }[]
}

export interface Message {
  role: 'user' | 'assistant' | 'system' | string
  content: string
}

export interface Assignment {
  assignment_id: number
  /** leased | submitted | expired | skipped (present in GET /assignments/{id}). */
  status?: 'leased' | 'submitted' | 'expired' | 'skipped'
  expires_at: string
  started_at: string
  task: {
    id: number
    kind: TaskKind
    campaign: { id: number; name: string }
    prompt: { id: number; messages: Message[]; category: string }
    completions: { id: number; text: string }[]
    guidelines: string
    flags: string[]
  }
}

export interface RatingIn {
  completion: number
  likert: number
  flags: string[]
  note: string
}

export interface DemonstrationSubmit {
  text: string
  seconds_spent?: number
}

export interface RankingSubmit {
  ranking: number[][]
  ratings: RatingIn[]
  none_acceptable: boolean
  seconds_spent?: number
}

export interface Campaign {
  id: number
  name: string
  guidelines: string
  status: CampaignStatus
  task_kinds: TaskKind[]
  completions_per_prompt: number
  labels_per_task: number
  gold_fraction: number
  lease_seconds: number
  priority: number
  sampling_policy: number | null
  generation_settings: Record<string, unknown>
  created_at: string
  updated_at: string
}

export type CampaignInput = Pick<
  Campaign,
  'name' | 'guidelines' | 'task_kinds' | 'completions_per_prompt' | 'labels_per_task' | 'lease_seconds' | 'priority' | 'gold_fraction'
>

export interface LineIssue {
  line: number
  reason: string
}

export interface ImportReport {
  imported: number
  /** The first 200 skipped lines; `duplicates_count` counts them all. */
  duplicates: LineIssue[]
  duplicates_count: number
  tasks_created: number
}

/** A large file's background import (`GET /campaigns/{id}/prompts/imports/{job_id}`). */
export interface ImportJob {
  id: number
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
  filename: string
  bytes_total: number | null
  bytes_read: number
  lines_read: number
  /** queued, reading, writing (the final insert), done */
  phase: string
  progress: number
  report: ImportReport | null
  /** A rejected file's bad lines (the first 200): nothing was imported. */
  errors: LineIssue[]
  bad_lines: number | null
  error: string
}

/** An upload is imported at once (a report) or, when large, by a background job to follow. */
export type ImportStarted = { report: ImportReport } | { job: ImportJob }

export interface Progress {
  tasks_total: number
  tasks_done: number
  labels_required: number
  labels_submitted: number
  active_leases: number
  active_labelers_24h: number
  labels_per_day: { date: string; count: number }[]
  by_kind?: Record<string, unknown>
  /** When the counts were last swept (server aggregates); `active_leases` is live. */
  as_of?: string | null
}

// ---- Errors ---------------------------------------------------------------------------------------

/** A failed call. `retryable` = network failure or 5xx: the work is kept and the user may retry. */
export class ApiError extends Error {
  readonly status: number // 0 = network failure
  readonly body: Record<string, unknown> | null

  constructor(status: number, message: string, body: Record<string, unknown> | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.body = body
  }

  get retryable(): boolean {
    return this.status === 0 || this.status >= 500
  }

  /** Field errors, e.g. {"ranking": ["completion 17 is not part of this task"]}. */
  get fieldErrors(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    const src = this.body && typeof this.body.errors === 'object' && !Array.isArray(this.body.errors) ? (this.body.errors as Record<string, unknown>) : this.body
    for (const [k, v] of Object.entries(src ?? {})) {
      if (k === 'detail') continue
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[]
      else if (typeof v === 'string') out[k] = [v]
    }
    return out
  }
}

function messageFor(status: number, body: Record<string, unknown> | null): string {
  const detail = body?.detail
  if (typeof detail === 'string' && detail) return detail
  if (Array.isArray(detail) && detail.length) return detail.map(String).join(' ')
  if (status >= 500) return `The server had a problem (HTTP ${status}). Your work is kept; try again.`
  if (status === 401 || status === 403) return 'You are not allowed to do that (are you still logged in?).'
  if (status === 404) return 'Not found.'
  const fields = body ? Object.entries(body).filter(([k]) => k !== 'detail') : []
  if (fields.length) return fields.map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('; ')
  return `Request failed (HTTP ${status}).`
}

// ---- Transport ------------------------------------------------------------------------------------

export function readCookie(name: string, cookie: string = typeof document === 'undefined' ? '' : document.cookie): string | null {
  for (const part of cookie.split(';')) {
    const [k, ...rest] = part.trim().split('=')
    if (k === name) return decodeURIComponent(rest.join('='))
  }
  return null
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; data: T }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders }
  let payload: BodyInit | undefined
  if (body instanceof FormData) payload = body
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  if (method !== 'GET') {
    const token = readCookie('csrftoken')
    if (token) headers['X-CSRFToken'] = token
  }
  let res: Response
  try {
    res = await fetch(`${API_BASE}${path}`, { method, headers, body: payload, credentials: 'same-origin' })
  } catch {
    throw new ApiError(0, 'Could not reach the server (network problem). Your work is kept; try again.')
  }
  const text = res.status === 204 ? '' : await res.text().catch(() => '')
  let data: unknown = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const obj = data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : null
    throw new ApiError(res.status, messageFor(res.status, obj), obj)
  }
  return { status: res.status, data: data as T }
}

/** DRF may paginate lists ({results: [...]}) or not; accept both. */
export function unpage<T>(data: T[] | { results: T[] }): T[] {
  return Array.isArray(data) ? data : (data?.results ?? [])
}

// ---- Endpoints ------------------------------------------------------------------------------------

export const api = {
  csrf: () => request<{ csrfToken: string }>('GET', '/auth/csrf'),
  async login(username: string, password: string): Promise<void> {
    await request('GET', '/auth/csrf')
    await request('POST', '/auth/login', { username, password })
  },
  logout: () => request('POST', '/auth/logout'),
  me: async () => (await request<Me>('GET', '/me')).data,

  /** null when nothing is left for this labeler (204); `kind` asks for that kind of task only. */
  async next(campaign?: number, kind?: TaskKind): Promise<Assignment | null> {
    const r = await request<Assignment>('POST', '/queue/next', { ...(campaign ? { campaign } : {}), ...(kind ? { kind } : {}) })
    return r.status === 204 ? null : r.data
  },
  assignment: async (id: number) => (await request<Assignment>('GET', `/assignments/${id}`)).data,
  submit: async (id: number, body: DemonstrationSubmit | RankingSubmit) =>
    (await request<Record<string, unknown>>('POST', `/assignments/${id}/submit`, body)).data,
  skip: async (id: number, reason: string) =>
    (await request<{ id: number; status: string }>('POST', `/assignments/${id}/skip`, { reason })).data,

  campaigns: async () => unpage((await request<Campaign[] | { results: Campaign[] }>('GET', '/campaigns?limit=500')).data),
  campaign: async (id: number) => (await request<Campaign>('GET', `/campaigns/${id}`)).data,
  createCampaign: async (c: CampaignInput) => (await request<Campaign>('POST', '/campaigns', c)).data,
  updateCampaign: async (id: number, c: Partial<CampaignInput>) => (await request<Campaign>('PATCH', `/campaigns/${id}`, c)).data,
  activate: async (id: number) => (await request<Campaign>('POST', `/campaigns/${id}/activate`)).data,
  pause: async (id: number) => (await request<Campaign>('POST', `/campaigns/${id}/pause`)).data,
  progress: async (id: number) => (await request<Progress>('GET', `/campaigns/${id}/progress`)).data,
  async importPrompts(id: number, file: File): Promise<ImportStarted> {
    const form = new FormData()
    form.append('file', file)
    const { status, data } = await request<ImportReport | ImportJob>('POST', `/campaigns/${id}/prompts/import`, form)
    return status === 202 ? { job: data as ImportJob } : { report: data as ImportReport }
  },

  async importJob(id: number, jobId: number): Promise<ImportJob> {
    return (await request<ImportJob>('GET', `/campaigns/${id}/prompts/imports/${jobId}`)).data
  },
}

export function isAdmin(me: Me | null): boolean {
  return !!me && (me.is_staff || me.roles.includes('campaign_admin'))
}

export function isLabeler(me: Me | null): boolean {
  return !!me && (me.is_staff || me.roles.includes('labeler'))
}

export function isResearcher(me: Me | null): boolean {
  return !!me && (me.is_staff || me.roles.includes('researcher'))
}
