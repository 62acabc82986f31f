/**
 * What a labeler chose to work on: any task, or only demonstrations or only rankings (the queue's
 * `kind`, docs/api.md). Remembered per user on this device, so "Next task" after a submit keeps asking
 * for the same kind, also after a reload.
 */
import type { TaskKind } from '../api'
import { appStorage, type KeyValueStorage } from '../drafts'

export type KindChoice = 'any' | TaskKind

export const KIND_CHOICES: { value: KindChoice; label: string; plural: string }[] = [
  { value: 'any', label: 'Any task', plural: 'tasks' },
  { value: 'demonstration', label: 'Demonstrations', plural: 'demonstrations' },
  { value: 'ranking', label: 'Rankings', plural: 'rankings' },
]

export function kindChoiceKey(userId: number): string {
  return `prefloop:kind:v1:${userId}`
}

export function isKindChoice(value: unknown): value is KindChoice {
  return KIND_CHOICES.some((c) => c.value === value)
}

export function loadKindChoice(userId: number, storage: KeyValueStorage = appStorage()): KindChoice {
  const saved = storage.getItem(kindChoiceKey(userId))
  return isKindChoice(saved) ? saved : 'any'
}

export function saveKindChoice(userId: number, choice: KindChoice, storage: KeyValueStorage = appStorage()): void {
  storage.setItem(kindChoiceKey(userId), choice)
}

/** The `kind` to send to the queue: nothing for "any". */
export function queueKind(choice: KindChoice): TaskKind | undefined {
  return choice === 'any' ? undefined : choice
}

/** "rankings", "demonstrations" or "tasks": for sentences such as "No rankings left for you". */
export function kindPlural(choice: KindChoice): string {
  return KIND_CHOICES.find((c) => c.value === choice)?.plural ?? 'tasks'
}
