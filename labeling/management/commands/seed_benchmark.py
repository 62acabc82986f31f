"""``manage.py seed_benchmark --labelers C --tasks N --k 4 --overlap O --tokens-file PATH``

Prepares a load benchmark (bench/labeling_load.py): C labeler accounts (token-only, in the labeler
group) with their API tokens written to PATH, and a fresh active campaign of N ranking tasks with K
completions each and O labels per task, created in bulk through the normal services. Earlier
benchmark campaigns are archived so they don't feed the queue.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from labeling import roles
from labeling.models import Campaign, Prompt, Task
from labeling.services.campaigns import campaign_activate, campaign_archive, campaign_create
from labeling.services.prompts import PromptRow, prompts_create
from labeling.services.users import user_create_with_role, user_token_create

PREFIX = "bench"


class Command(BaseCommand):
    help = "Seed labelers + tokens and a campaign of ranking tasks for the load benchmark."

    def add_arguments(self, parser):
        parser.add_argument("--labelers", type=int, required=True, help="C: labeler accounts (tokens)")
        parser.add_argument("--tasks", type=int, required=True, help="N: ranking tasks")
        parser.add_argument("--k", type=int, default=4, help="completions per task (2-9)")
        parser.add_argument("--overlap", type=int, default=1, help="labels per task")
        parser.add_argument("--tokens-file", required=True, help="where to write the labelers' tokens (JSON)")
        parser.add_argument("--lease-seconds", type=int, default=600)

    def handle(self, *args, labelers, tasks, k, overlap, tokens_file, lease_seconds, **opts):
        if labelers < 1 or tasks < 1 or not 2 <= k <= 9 or overlap < 1:
            raise CommandError("need --labelers ≥ 1, --tasks ≥ 1, 2 ≤ --k ≤ 9, --overlap ≥ 1")
        started = time.monotonic()
        users = self._labelers(labelers)
        for old in Campaign.objects.filter(name__startswith=f"{PREFIX}-").exclude(status=Campaign.Status.ARCHIVED):
            campaign_archive(campaign=old)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
        with transaction.atomic():
            campaign = campaign_create(
                name=f"{PREFIX}-{stamp}", task_kinds=[Task.Kind.RANKING], completions_per_prompt=k,
                labels_per_task=overlap, lease_seconds=lease_seconds,
                guidelines="Benchmark campaign: rank the completions.",
            )
            rows = [
                PromptRow(
                    messages=[{"role": "user", "content": f"[{stamp}] Benchmark prompt {i}: explain topic #{i}."}],
                    author_id=f"bench-author-{i % 50}", category=Prompt.Category.OPEN_QA,
                    completions=[f"Candidate answer {j} for prompt {i}." for j in range(k)],
                )
                for i in range(tasks)
            ]
            created = prompts_create(campaign=campaign, rows=rows)
            campaign_activate(campaign=campaign)
        payload = {
            "campaign": campaign.pk, "tasks": created.tasks_created, "k": k, "overlap": overlap,
            "labelers": [{"username": u.username, "token": user_token_create(user=u, name="benchmark").key} for u in users],
        }
        path = Path(tokens_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        self.stdout.write(
            f"campaign #{campaign.pk}: {created.tasks_created} ranking tasks (K={k}, overlap={overlap}); "
            f"{len(users)} labelers → {path} ({time.monotonic() - started:.1f}s)"
        )

    def _labelers(self, count: int):
        User = get_user_model()
        names = [f"{PREFIX}-labeler-{i:04d}" for i in range(count)]
        existing = {u.username: u for u in User.objects.filter(username__in=names)}
        users = []
        for name in names:
            user = existing.get(name) or user_create_with_role(username=name, password=None, roles=[roles.LABELER])
            users.append(user)
        return users
