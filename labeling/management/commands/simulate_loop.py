"""``manage.py simulate_loop``: InstructGPT rounds with simulated labelers, through the real system.

    make loop                                          # tiny model, 2 rounds, a private SQLite database
    python manage.py simulate_loop --model smollm2-135m-instruct --rounds 1 --noise 0.5

Simulated labelers (``labeling.simulation``) hold a hidden preference (shorter answers by default) and
label through the REST API and the queue. Before round 1 they write the demonstrations, and an SFT model
trained on them samples the first ranking tasks (``--first_ranked base``: the base model does). Each round
is one iteration (POST /iterations: export → SFT → reward → PPO-ptx → generate → evaluate) whose jobs run
in this process as a worker would; the iteration's new policy samples the next round's ranking tasks. A round
that starts from a fine-tuned model (the warm-start SFT model, then each round's policy) uses it as its SFT
model (``skip_sft``) instead of training SFT again, unless ``--retrain_sft``. Per round it prints: labels gathered,
the reward model's held-out pairwise accuracy against the (noisy) labels, the noise ceiling (the hidden
preference itself against those labels) and against the noise-free preference, the PPO (and with
``--dpo`` DPO) policy's win rate over its SFT parent under the hidden preference on held-out prompts
from unseen topics, the marker rate of each, and PPO's final KL.
"""
from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rest_framework.test import APIClient

from labeling import roles
from labeling.jobs.export_job import run_export
from labeling.jobs.kinds import suggested_params
from labeling.jobs.runner import run_job
from labeling.management.commands._demo_prompts import DEMO_PROMPTS
from labeling.models import DatasetSnapshot, Job, ModelVersion
from labeling.services.iterations import iteration_advance
from labeling.services.users import user_create_with_role, user_token_create
from labeling.simulation import API, HiddenPreference, SimulatedLabeler, pair_accuracy, ranked_pairs, work_queue

VALID_FRACTION = 0.25  # of the authors, held out of training in every snapshot the loop makes
HELD_OUT_TOPICS = ["a lighthouse", "bread baking", "a chess opening", "desert plants", "a train journey",
                   "jazz", "volcanoes", "a library", "kites", "glaciers", "a street market", "owls"]
# Training prompts beyond the demo campaign's 24 (--extra_prompts): topics disjoint from the held-out ones.
EXTRA_TOPICS = ["rivers", "bicycles", "honeybees", "the night sky", "tea", "mountains", "a city park", "robots",
                "the ocean", "autumn leaves", "a bakery", "trains", "penguins", "a garden", "thunderstorms", "maps",
                "a museum", "coffee", "snow", "forests", "a harbour", "the moon", "bridges", "rainbows", "deserts",
                "a violin", "clocks", "a farm", "whales", "paper", "a marathon", "spiders", "castles", "the wind",
                "a market garden", "fireflies", "islands", "a newspaper", "sailing", "caves"]
EXTRA_TEMPLATES = ["Tell me something interesting about {}.", "Write two sentences about {}.",
                   "What should a beginner know about {}?", "Describe {} to a child."]


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token_create(user=user, name='simulate_loop').key}")
    return client


def _ok(response, *codes):
    if response.status_code not in (codes or (200, 201)):
        raise CommandError(f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']}: "
                           f"{response.status_code} {response.content[:500]!r}")
    return response.json() if response.content else None


class Command(BaseCommand):
    help = "Run InstructGPT rounds with simulated labelers through the API, queue, snapshots, jobs and iterations."

    def add_arguments(self, parser):
        parser.add_argument("--rounds", type=int, default=2)
        parser.add_argument("--model", default="tiny", help="registered name or model folder to start from")
        parser.add_argument("--labelers", type=int, default=3)
        parser.add_argument("--overlap", type=int, default=1,
                            help="labels per task (the campaign's labels_per_task): more, noisier labels per round")
        parser.add_argument("--extra_prompts", type=int, default=0,
                            help=f"templated training prompts added to the 24 demo prompts (at most "
                                 f"{len(EXTRA_TOPICS) * len(EXTRA_TEMPLATES)}; topics disjoint from the held-out ones)")
        parser.add_argument("--noise", type=float, default=20.0,
                            help="std-dev of the labelers' noise in score units (characters for shorter/longer)")
        parser.add_argument("--prefer", default="shorter", help="the hidden preference: shorter, longer or marker:WORD")
        parser.add_argument("--dpo", action="store_true", help="also train DPO each round and report its win rate")
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--first_ranked", choices=["sft", "base"], default="sft",
                            help="whose samples the labelers rank before round 1: an SFT model trained on their first "
                                 "demonstrations (as InstructGPT did) or the base model")
        parser.add_argument("--retrain_sft", action="store_true",
                            help="train an SFT stage every round; by default a round that starts from a fine-tuned "
                                 "model (the warm-start SFT model, a previous round's policy) uses it as its SFT model")
        parser.add_argument("--params", default="", help="JSON file of per-stage params {stage: {field: value}}")

    def handle(self, *args, **opts):
        # Jobs run in this process, one after the other, as a worker would; their messages go to an in-memory
        # broker so that no real worker races this process for them (and none is needed).
        from config.celery import app as celery_app

        celery_app.conf.broker_url = "memory://"
        rng = random.Random(opts["seed"])
        try:
            self.pref = HiddenPreference(opts["prefer"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.device = opts["device"]
        self.workdir = Path(settings.PREFLOOP_DATA_DIR) / "simulate" / time.strftime("%Y%m%d-%H%M%S")
        self.workdir.mkdir(parents=True)
        self.params = self._stage_params(opts["params"])
        tag = time.strftime("%H%M%S")
        staff = user_create_with_role(username=f"sim-researcher-{tag}", roles=[roles.RESEARCHER, roles.CAMPAIGN_ADMIN])
        self.api = _client(staff)
        labelers = [SimulatedLabeler(_client(user_create_with_role(username=f"sim-labeler-{tag}-{i}",
                                                                   roles=[roles.LABELER])),
                                     self.pref, opts["noise"], random.Random(rng.random())) for i in range(opts["labelers"])]
        if not 0 <= opts["extra_prompts"] <= len(EXTRA_TOPICS) * len(EXTRA_TEMPLATES) or opts["overlap"] < 1:
            raise CommandError("--extra_prompts must be in 0..160 and --overlap at least 1")
        campaign = self._campaign(tag, opts["overlap"], opts["extra_prompts"])
        base = _ok(self.api.post(f"{API}/models", {"name": f"sim-base-{tag}", "kind": "base",
                                                   "artifact_path": opts["model"]}, format="json"))
        t0 = time.monotonic()
        first = self._warm_start(campaign, base["id"], tag, labelers) if opts["first_ranked"] == "sft" else base["id"]
        self._first_outputs(campaign, first, tag)
        warm_s = time.monotonic() - t0
        held_out = self._held_out_prompts()
        self.stdout.write(f"simulate_loop: model={opts['model']} labelers={opts['labelers']} noise={opts['noise']} "
                          f"prefer={opts['prefer']} workdir={self.workdir}")
        self.stdout.write(f"first ranking tasks: samples of the {opts['first_ranked']} model ({warm_s:.0f} s)")
        self.stdout.write("round | demos | rankings | RM acc vs labels | noise ceiling | RM acc vs true pref | "
                          "PPO win vs SFT | score SFT→PPO | KL | DPO win | wall s")
        start_model, skip_sft = first, first != base["id"] and not opts["retrain_sft"]
        for r in range(1, opts["rounds"] + 1):
            t0 = time.monotonic()
            counts = work_queue(labelers)
            row = self._round(r, campaign, start_model, skip_sft, tag, held_out, opts["dpo"])
            self.stdout.write(f"{r} | {counts['demonstration']} | {counts['ranking']} | {_f(row['rm_noisy'])} | "
                              f"{_f(row['ceiling'])} | {_f(row['rm_clean'])} | {_f(row['ppo_win'])} | "
                              f"{_f(row['score_sft'], 1)}→{_f(row['score_ppo'], 1)} | {_f(row['kl'], 3)} | "
                              f"{_f(row.get('dpo_win'))} | {time.monotonic() - t0:.0f}")
            start_model, skip_sft = row["policy_id"], not opts["retrain_sft"]

    # ------------------------------------------------------------ setup

    def _stage_params(self, path: str) -> dict:
        small = {"device": self.device}
        params = {s: dict(small) for s in ("sft", "reward", "ppo", "generate", "evaluate", "dpo")}
        params["ppo"].update(max_new_tokens=24)
        params["generate"].update(k=4, max_new_tokens=24)
        params["evaluate"].update(max_new_tokens=24)
        if path:
            for stage, values in json.loads(Path(path).read_text()).items():
                params.setdefault(stage, {}).update(values)
        return params

    def _campaign(self, tag: str, overlap: int, extra: int) -> dict:
        campaign = _ok(self.api.post(f"{API}/campaigns", {
            "name": f"simulated-{tag}", "task_kinds": ["demonstration", "ranking"], "completions_per_prompt": 4,
            "labels_per_task": overlap,
            "guidelines": f"Helpful answers. (The simulated labelers' hidden preference: {self.pref.rule}.)"},
            format="json"))
        lines = [json.dumps({"messages": p["messages"], "author_id": p["author_id"], "category": p["category"]})
                 for p in DEMO_PROMPTS]
        pairs = [(template, topic) for template in EXTRA_TEMPLATES for topic in EXTRA_TOPICS][:extra]
        lines += [json.dumps({"prompt": template.format(topic), "author_id": f"sim-author-{i % 8}",
                              "category": "generation"}) for i, (template, topic) in enumerate(pairs)]
        upload = io.BytesIO("\n".join(lines).encode())
        upload.name = "prompts.jsonl"
        _ok(self.api.post(f"{API}/campaigns/{campaign['id']}/prompts/import", {"file": upload}, format="multipart"))
        _ok(self.api.post(f"{API}/campaigns/{campaign['id']}/activate"))
        return campaign

    def _warm_start(self, campaign: dict, base_id: int, tag: str, labelers: list[SimulatedLabeler]) -> int:
        """The labelers write the demonstrations, and an SFT job trains on them (the split and params round 1's
        iteration will use); returns the SFT model, whose samples become the first ranking tasks, so that
        round 1's reward model learns on outputs in the style PPO starts from."""
        work_queue(labelers)  # only demonstration tasks exist yet
        snap = _ok(self.api.post(f"{API}/snapshots", {"kind": "sft", "campaign_ids": [campaign["id"]],
                                                      "valid_fraction": VALID_FRACTION, "name": f"sim-demos-{tag}"},
                                 format="json"))
        job = _ok(self.api.post(f"{API}/jobs", {"kind": "sft", "inputs": {"model": base_id, "data": snap["id"]},
                                                "params": {**suggested_params("sft"), **self.params["sft"]}},
                                format="json"))
        return ModelVersion.objects.get(job_id=self._run(job["id"]).pk).pk

    def _first_outputs(self, campaign: dict, model_id: int, tag: str) -> None:
        """K samples per prompt from ``model_id`` become the first ranking tasks (a generate job)."""
        snap = _ok(self.api.post(f"{API}/snapshots", {"kind": "prompts", "campaign_ids": [campaign["id"]],
                                                      "name": f"sim-prompts-{tag}"}, format="json"))
        job = _ok(self.api.post(f"{API}/jobs", {"kind": "generate", "inputs": {"model": model_id, "prompts": snap["id"]},
                                                "params": {**self.params["generate"], "campaign": campaign["id"]}},
                                format="json"))
        self._run(job["id"])

    def _held_out_prompts(self) -> Path:
        path = self.workdir / "held_out_prompts.jsonl"
        rows = [{"prompt": [{"role": "user", "content": f"Tell me something interesting about {t}."}], "prompt_id": i}
                for i, t in enumerate(HELD_OUT_TOPICS)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    # ------------------------------------------------------------ one round

    def _run(self, job_id: int) -> Job:
        job = Job.objects.get(pk=job_id)
        status = run_export(job.pk) if job.kind == Job.Kind.EXPORT else run_job(job.pk)
        job.refresh_from_db()
        if status != Job.Status.SUCCEEDED:
            raise CommandError(f"{job.kind} job {job.pk} {status}: {job.error[:1500]}")
        return job

    def _round(self, r: int, campaign: dict, start_model: int, skip_sft: bool, tag: str, held_out: Path,
               dpo: bool) -> dict:
        params = {s: v for s, v in self.params.items() if s != "dpo" and not (s == "sft" and skip_sft)}
        it = _ok(self.api.post(f"{API}/iterations", {
            "name": f"sim-{tag}-r{r}", "source_campaign_ids": [campaign["id"]], "target_campaign_id": campaign["id"],
            "base_model": start_model, "skip_sft": skip_sft, "method": "ppo", "valid_fraction": VALID_FRACTION,
            "params": params}, format="json"))
        while (job := Job.objects.filter(iteration_id=it["id"], status=Job.Status.QUEUED).order_by("id").first()):
            self._run(job.pk)
            iteration_advance(iteration_id=it["id"])  # idempotent: finishing the job already advanced it
        it = _ok(self.api.get(f"{API}/iterations/{it['id']}"))
        if it["status"] != "succeeded":
            raise CommandError(f"iteration {it['name']} {it['status']}: {it['error']}")
        rm = ModelVersion.objects.get(pk=it["reward_model"]["id"]).artifact_path
        sft = ModelVersion.objects.get(pk=it["sft_model"]["id"]).artifact_path
        ppo = ModelVersion.objects.get(pk=it["policy_model"]["id"])
        row = self._reward_accuracy(rm, DatasetSnapshot.objects.get(pk=it["snapshots"]["comparisons"]))
        sft_texts, ppo_texts = self._samples(sft, held_out, "sft", r), self._samples(ppo.artifact_path, held_out, "ppo", r)
        row.update(ppo_win=self._win_rate(ppo_texts, sft_texts), score_sft=self._mean_score(sft_texts),
                   score_ppo=self._mean_score(ppo_texts), policy_id=ppo.pk,
                   kl=(ppo.metrics.get("final") or {}).get("kl"))
        if dpo:
            job = _ok(self.api.post(f"{API}/jobs", {"kind": "dpo", "inputs": {
                "model": it["sft_model"]["id"], "data": it["snapshots"]["comparisons"]}, "params": self.params["dpo"]},
                format="json"))
            dpo_model = ModelVersion.objects.get(job_id=self._run(job["id"]).pk)
            row["dpo_win"] = self._win_rate(self._samples(dpo_model.artifact_path, held_out, "dpo", r), sft_texts)
        return row

    def _cli(self, *args: str) -> None:
        python = settings.PREFLOOP_TRAINING_PYTHON or sys.executable
        proc = subprocess.run([python, "-m", "training", *args], cwd=settings.BASE_DIR, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CommandError(f"python -m training {args[0]} failed: {proc.stderr[-1500:]}")

    def _reward_accuracy(self, rm: str, snapshot: DatasetSnapshot) -> dict:
        """The RM on the held-out split: against the noisy labels and against the noise-free preference."""
        rows = [json.loads(line) for line in (Path(snapshot.path) / "valid.jsonl").read_text().splitlines() if line]
        clean_rows, ceiling_pairs = [], []
        for row in rows:
            scores = [self.pref.score(t) for t in row["completions"]]
            ceiling_pairs += [(scores[w], scores[l]) for w, l in ranked_pairs(row["ranking"])]
            levels = sorted(set(scores), reverse=True)
            if len(levels) > 1:
                clean_rows.append({**row, "ranking": [[i for i, s in enumerate(scores) if s == v] for v in levels]})
        out = {"ceiling": pair_accuracy(ceiling_pairs)}
        for key, data in (("rm_noisy", rows), ("rm_clean", clean_rows)):
            out[key] = self._accuracy(rm, data, key) if data else None
        return out

    def _accuracy(self, rm: str, rows: list[dict], key: str) -> float:
        data, result = self.workdir / f"{key}.jsonl", self.workdir / f"{key}-result.json"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        self._cli("evaluate", f"--reward_model={rm}", f"--comparisons={data}", f"--output={result}",
                  f"--device={self.device}")
        return json.loads(result.read_text())["accuracy"]

    def _samples(self, model: str, prompts: Path, name: str, r: int) -> list[list[str]]:
        out = self.workdir / f"r{r}-{name}-samples.jsonl"
        p = self.params["generate"]
        self._cli("generate", f"--model={model}", f"--prompts={prompts}", f"--output={out}", "--k=4",
                  f"--max_new_tokens={p.get('max_new_tokens', 24)}", "--temperature=1.0", "--seed=1234",
                  f"--device={self.device}")
        rows = sorted((json.loads(line) for line in out.read_text().splitlines() if line), key=lambda x: x["prompt_id"])
        return [row["completions"] for row in rows]

    def _win_rate(self, policy: list[list[str]], parent: list[list[str]]) -> float | None:
        pairs = [(self.pref.score(a), self.pref.score(b)) for ps, qs in zip(policy, parent) for a, b in zip(ps, qs)]
        return pair_accuracy(pairs)

    def _mean_score(self, samples: list[list[str]]) -> float:
        texts = [t for group in samples for t in group]
        return sum(self.pref.score(t) for t in texts) / max(len(texts), 1)


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
