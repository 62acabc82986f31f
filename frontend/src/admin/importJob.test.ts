import { describe, expect, it } from 'vitest'
import type { ImportJob } from '../api'
import { formatBytes, isFinal, jobOutcome, percent, progressSummary } from './importJob'

function job(over: Partial<ImportJob> = {}): ImportJob {
  return {
    id: 7, status: 'running', filename: 'big.jsonl', bytes_total: 45_000_000, bytes_read: 9_000_000,
    lines_read: 12_345, phase: 'reading', progress: 0.2, report: null, errors: [], bad_lines: null, error: '', ...over,
  }
}

describe('import job display', () => {
  it('formats sizes in decimal units', () => {
    expect([formatBytes(512), formatBytes(980_000), formatBytes(3_200_000), formatBytes(2_500_000_000)]).toEqual([
      '512 B', '980 kB', '3.2 MB', '2.50 GB',
    ])
  })

  it('says where a running import is: queued, reading with counts, writing', () => {
    expect(progressSummary(job({ status: 'queued', phase: 'queued', bytes_read: 0, lines_read: 0 }))).toBe(
      'Waiting for a worker to start the import of big.jsonl (45.0 MB)…',
    )
    expect(progressSummary(job())).toBe('Reading and checking: 12,345 lines read, 9.0 MB of 45.0 MB (20 %)')
    expect(progressSummary(job({ phase: 'writing', lines_read: 1 }))).toBe('Writing the prompts, tasks and completions (1 line read)…')
  })

  it('shows a percentage of bytes read, 100 once succeeded, 0 with no known size', () => {
    expect(percent(job())).toBe(20)
    expect(percent(job({ bytes_read: 45_000_000 }))).toBe(100)
    expect(percent(job({ bytes_total: null }))).toBe(0)
    expect(percent(job({ status: 'succeeded', bytes_read: 0 }))).toBe(100)
  })

  it('turns a finished job into the report or the bad lines, and a running one into nothing', () => {
    expect(jobOutcome(job())).toBeNull()
    expect(isFinal(job({ status: 'cancelled' }))).toBe(true)
    const report = { imported: 3, duplicates: [], duplicates_count: 0, tasks_created: 6 }
    expect(jobOutcome(job({ status: 'succeeded', report }))).toEqual({ ok: true, report })
    const errors = [{ line: 52, reason: "unknown category 'poetry'" }]
    expect(jobOutcome(job({ status: 'failed', error: 'nothing was imported: 1 bad line', errors }))).toEqual({
      ok: false, message: 'nothing was imported: 1 bad line', errors,
    })
    expect(jobOutcome(job({ status: 'cancelled' }))).toEqual({ ok: false, message: 'the import cancelled', errors: [] })
  })
})
