"""factory_boy factories and service-backed builders for the labeling tests.

Prefer :func:`campaign_with_tasks` (goes through the real services, so tasks, completions and
counters look exactly as in production); the model factories are for edge cases.
"""

import factory
from django.contrib.auth import get_user_model

from labeling import roles
from labeling.models import Campaign, ModelVersion
from labeling.services.campaigns import campaign_activate, campaign_create
from labeling.services.prompts import prompt_row_from_dict, prompts_create
from labeling.services.users import user_create_with_role

PASSWORD = "pw-for-tests-only"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = factory.Sequence(lambda n: f"model-{n}")
    kind = ModelVersion.Kind.SFT
    artifact_path = "tiny"


_user_seq = iter(range(1, 10**9))


def make_user(role: str | None = roles.LABELER, *, staff: bool = False, username: str | None = None):
    """A user with one role (or none), through the real service; password is ``PASSWORD``."""
    username = username or f"{role or ('staff' if staff else 'nobody')}-{next(_user_seq)}"
    return user_create_with_role(username=username, password=PASSWORD, roles=[role] if role else [], is_staff=staff)


def prompt_dicts(n: int, *, k: int = 4, start: int = 0, prefix: str = "Prompt") -> list[dict]:
    """``n`` distinct import rows with ``k`` completions each (``k=0``: none)."""
    rows = []
    for i in range(start, start + n):
        row = {"prompt": f"{prefix} number {i}: explain something.", "author_id": f"author-{i % 7}", "category": "open_qa"}
        if k:
            row["completions"] = [f"answer {j} to prompt {i}" for j in range(k)]
        rows.append(row)
    return rows


def campaign_with_tasks(
    *,
    n: int = 3,
    k: int = 4,
    overlap: int = 1,
    kinds=("ranking",),
    active: bool = True,
    name: str | None = None,
    priority: int = 0,
    lease_seconds: int = 1800,
    prefix: str = "Prompt",
) -> Campaign:
    """A campaign with ``n`` prompts (``k`` completions each) and their tasks, via the services."""
    campaign = campaign_create(
        name=name or f"campaign-{next(_user_seq)}", task_kinds=list(kinds), completions_per_prompt=max(k, 2),
        labels_per_task=overlap, priority=priority, lease_seconds=lease_seconds, guidelines="# Be helpful",
    )
    rows = [prompt_row_from_dict(r, line=i + 1) for i, r in enumerate(prompt_dicts(n, k=k, prefix=prefix))]
    prompts_create(campaign=campaign, rows=rows)
    if active:
        campaign = campaign_activate(campaign=campaign)
    return campaign
