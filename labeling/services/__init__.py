"""Writes. Every function is ``<entity>_<action>(*, ...)``, documents its preconditions and runs in a
transaction. Import from the submodules or from here:

- users: ``user_create_with_role``, ``user_set_roles``
- campaigns: ``campaign_create``, ``campaign_update``, ``campaign_activate``, ``campaign_pause``,
  ``campaign_archive``, ``campaign_delete``
- prompts: ``prompt_row_from_dict``, ``prompts_create``, ``completions_create``
- prompt_import: ``prompts_import`` (JSONL/CSV uploads)
- task_creation: ``tasks_create_for_prompts``, ``task_create_ranking``, ``task_create_demonstration``,
  ``ranking_tasks_create_from_outputs``
- queue: ``assignment_next``, ``assignments_expire_stale``
- submissions: ``assignment_submit``, ``assignment_skip``
- gold: ``task_set_gold`` (gold answers; agreement is read by ``selectors.quality``)
"""

from labeling.services.campaigns import (
    campaign_activate,
    campaign_archive,
    campaign_create,
    campaign_delete,
    campaign_pause,
    campaign_update,
)
from labeling.services.errors import Conflict, ImportRejected, PayloadTooLarge, ServiceError
from labeling.services.gold import task_set_gold
from labeling.services.prompt_import import prompts_import
from labeling.services.prompts import PromptRow, completions_create, prompt_row_from_dict, prompts_create
from labeling.services.queue import assignment_next, assignments_expire_stale
from labeling.services.submissions import SubmissionResult, assignment_skip, assignment_submit
from labeling.services.task_creation import (
    ranking_tasks_create_from_outputs,
    task_create_demonstration,
    task_create_ranking,
    tasks_create_for_prompts,
)
from labeling.services.users import user_create_with_role, user_set_roles

__all__ = [
    "Conflict", "ImportRejected", "PayloadTooLarge", "PromptRow", "ServiceError", "SubmissionResult",
    "assignment_next", "assignment_skip", "assignment_submit", "assignments_expire_stale",
    "campaign_activate", "campaign_archive", "campaign_create", "campaign_delete", "campaign_pause",
    "campaign_update", "completions_create", "prompt_row_from_dict", "prompts_create", "prompts_import",
    "ranking_tasks_create_from_outputs", "task_create_demonstration", "task_create_ranking", "task_set_gold",
    "tasks_create_for_prompts", "user_create_with_role", "user_set_roles",
]
