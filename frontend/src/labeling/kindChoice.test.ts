import { describe, expect, it } from 'vitest'
import { MemoryStorage } from '../drafts'
import { kindChoiceKey, kindPlural, loadKindChoice, queueKind, saveKindChoice } from './kindChoice'

describe('kind choice', () => {
  it('is remembered per user and defaults to any task', () => {
    const storage = new MemoryStorage()
    expect(loadKindChoice(7, storage)).toBe('any')
    saveKindChoice(7, 'ranking', storage)
    expect(loadKindChoice(7, storage)).toBe('ranking')
    expect(loadKindChoice(8, storage)).toBe('any')
  })

  it('ignores a stored value it does not know', () => {
    const storage = new MemoryStorage()
    storage.setItem(kindChoiceKey(7), 'comparisons')
    expect(loadKindChoice(7, storage)).toBe('any')
  })

  it('asks the queue for a kind only when one was chosen', () => {
    expect(queueKind('any')).toBeUndefined()
    expect(queueKind('demonstration')).toBe('demonstration')
    expect(kindPlural('ranking')).toBe('rankings')
    expect(kindPlural('any')).toBe('tasks')
  })
})
