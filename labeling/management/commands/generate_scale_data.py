"""``manage.py generate_scale_data``: fill a PostgreSQL database to a given size, fast (issue 12, item 5).

    manage.py generate_scale_data --campaigns 50 --open-tasks 1000000 --labels 200000 \\
        --labelers 64 --past-assignments-per-labeler 50000 --heavy-labelers 32 --history-on open \\
        --k 4 --overlap 2 --seed 1 --tokens-file var/bench/scale_tokens.json

What it makes, all through COPY in one transaction (then sequences reset and ANALYZE):

- ``--campaigns`` active ranking campaigns (made by the campaign services: K, overlap, lease);
- ``--labelers`` token-only labeler accounts (the labeler group), API tokens for them in
  ``--tokens-file`` (the shape ``seed_benchmark`` writes, for bench/labeling_load.py);
- ``--open-tasks`` open ranking tasks, each with its own prompt and K completions, round-robin
  over the campaigns;
- ``--labels`` submitted rankings on done tasks (``--overlap`` labels each, distinct labelers),
  submitted over the last 60 days, a ``--ratings-fraction`` of them with K Likert ratings;
- history: ``--heavy-labelers`` H labelers who each submitted ``--past-assignments-per-labeler`` P
  labels, on P shared tasks. ``--history-on done``: those tasks are done (required_labels H).
  ``--history-on open``: they are still open and first in queue order (required_labels H +
  overlap: each still has ``overlap`` free slots), the worst case for the queue's "never the
  same task twice" anti-join.

Rows are shaped as the services write them: the task counters (``submitted_count``,
``active_leases`` 0, ``status``), the assignment's ``display_order`` (a shuffle of the completion
ids), ``submission_digest`` (``services.submissions._digest`` of the canonical body), the ranking's
``groups`` (best first, ties sorted inside a group), ratings' flags lists. Prompt authors
(``author_id``) cycle over ``--authors`` values so exports can split by author.
"""
from __future__ import annotations

import hashlib
import json
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from labeling import roles
from labeling.management.commands._scale_copy import (
    CopyStats, analyze, copy_rows, indexes_deferred, line, next_ids, reset_sequences,
)
from labeling.models import Assignment, Campaign, Completion, Prompt, Ranking, Rating, Task
from labeling.services.campaigns import campaign_activate, campaign_create
from labeling.services.dashboards import progress_rebuild
from labeling.services.prompts import prompt_content_hash
from labeling.services.submissions import _digest
from labeling.services.users import user_token_create

User = get_user_model()
TaskCompletion = Task.completions.through
HISTORY_DAYS = 60
CATEGORIES = Prompt.Category.values


@dataclass(frozen=True)
class Plan:
    """Task index ranges, in id order: history tasks first (so, if open, first in the queue),
    then the open tasks, then the done tasks carrying ``--labels``."""

    history: int
    open: int
    labeled: int
    heavy: int
    overlap: int
    labels: int

    @property
    def tasks(self) -> int:
        return self.history + self.open + self.labeled

    def labels_on(self, t: int) -> int:
        """Submitted labels on task ``t``."""
        if t < self.history:
            return self.heavy
        if t < self.history + self.open:
            return 0
        i = t - self.history - self.open
        return min(self.overlap, self.labels - i * self.overlap)


class Command(BaseCommand):
    help = "Fill a PostgreSQL database with campaigns, tasks, labels and labelers at scale (COPY)."

    def add_arguments(self, parser):
        parser.add_argument("--campaigns", type=int, default=1, help="active ranking campaigns")
        parser.add_argument("--open-tasks", type=int, default=2000, help="open ranking tasks, over the campaigns")
        parser.add_argument("--labels", type=int, default=0, help="submitted rankings on done tasks")
        parser.add_argument("--labelers", type=int, default=8, help="labeler accounts")
        parser.add_argument("--past-assignments-per-labeler", type=int, default=0,
                            help="P: submitted labels of each heavy labeler (on P shared tasks)")
        parser.add_argument("--heavy-labelers", type=int, default=None,
                            help="H: how many labelers have the P past labels (default: all of them)")
        parser.add_argument("--history-on", choices=("done", "open"), default="done",
                            help="the heavy labelers' tasks are done, or open at the top of the queue")
        parser.add_argument("--k", type=int, default=4, help="completions per task (2-9)")
        parser.add_argument("--overlap", type=int, default=2, help="labels per task (campaign labels_per_task)")
        parser.add_argument("--authors", type=int, default=1000, help="distinct prompt authors")
        parser.add_argument("--ratings-fraction", type=float, default=0.1, help="share of labels with K ratings")
        parser.add_argument("--lease-seconds", type=int, default=1800)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--prefix", default="scale", help="names: <prefix>-<run>-campaign-i, -labeler-i")
        parser.add_argument("--reuse-labelers", metavar="PREFIX",
                            help="use the first --labelers existing users whose username starts with PREFIX "
                                 "(e.g. an earlier run's) instead of creating new ones")
        parser.add_argument("--into-campaigns", metavar="PREFIX",
                            help="add the tasks to the first --campaigns existing campaigns whose name starts "
                                 "with PREFIX (e.g. to grow an earlier run's) instead of creating new ones")
        parser.add_argument("--tokens-file", help="write the labelers' API tokens here (JSON)")
        parser.add_argument("--check-foreign-keys", action="store_true",
                            help="keep PostgreSQL's per-row foreign-key checks on (slower; off needs a superuser)")
        parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE at the end")

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("generate_scale_data needs PostgreSQL (it writes with COPY): "
                               "set DATABASE_URL=postgres://… (this database is %s)" % connection.vendor)
        heavy = o["labelers"] if o["heavy_labelers"] is None else o["heavy_labelers"]
        past = o["past_assignments_per_labeler"]
        self._check(o, heavy)
        plan = Plan(history=past if heavy else 0, open=o["open_tasks"], labeled=-(-o["labels"] // o["overlap"]),
                    heavy=heavy if past else 0, overlap=o["overlap"], labels=o["labels"])
        self.rng, self.o, self.plan, self.stats = random.Random(o["seed"]), o, plan, CopyStats()
        self.now = timezone.now()
        self.run = f"{o['prefix']}-{self.now.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}"
        started = time.perf_counter()
        with transaction.atomic():
            campaigns = self._campaigns()
            labelers = self._labelers()
            counts = self._tasks_and_labels(campaigns, labelers)
            reset_sequences([User, Campaign, Prompt, Completion, Task, TaskCompletion, Assignment, Ranking, Rating])
        tables = [t for t in self.stats.tables if not t.startswith("(")]
        seconds_analyze = 0.0 if o["no_analyze"] else analyze(tables)
        if o["tokens_file"]:
            self._tokens(campaigns, labelers)
        # The dashboards' aggregates follow new labels from a recent watermark; a bulk load of
        # labels dated weeks back is recounted here, as after any bulk load (dashboards_rebuild).
        rebuild_started = time.perf_counter()
        progress_rebuild()
        seconds_rebuild = time.perf_counter() - rebuild_started
        elapsed = time.perf_counter() - started
        self.stdout.write(f"run {self.run}: campaigns {[c.pk for c in campaigns]}")
        self.stdout.write("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        for row in self.stats.lines():
            self.stdout.write(row)
        self.stdout.write(f"  ANALYZE {seconds_analyze:.1f} s; dashboards rebuilt {seconds_rebuild:.1f} s; "
                          f"total {elapsed:.1f} s")

    def _check(self, o, heavy: int) -> None:
        problems = []
        if o["campaigns"] < 1:
            problems.append("--campaigns must be ≥ 1")
        if min(o["open_tasks"], o["labels"], o["past_assignments_per_labeler"], o["labelers"]) < 0:
            problems.append("counts cannot be negative")
        if not 2 <= o["k"] <= 9:
            problems.append("--k must be 2-9")
        if not 1 <= o["overlap"] <= 20:
            problems.append("--overlap must be 1-20")
        if o["labels"] and o["labelers"] < o["overlap"]:
            problems.append(f"--labels needs at least --overlap ({o['overlap']}) labelers")
        if not 0 <= heavy <= o["labelers"]:
            problems.append("--heavy-labelers must be between 0 and --labelers")
        if not 0.0 <= o["ratings_fraction"] <= 1.0:
            problems.append("--ratings-fraction must be in [0, 1]")
        if o["authors"] < 1:
            problems.append("--authors must be ≥ 1")
        if problems:
            raise CommandError("; ".join(problems))

    # ------------------------------------------------------------------ campaigns and labelers

    def _campaigns(self) -> list[Campaign]:
        if self.o["into_campaigns"]:
            found = list(Campaign.objects.filter(name__startswith=self.o["into_campaigns"]).order_by("id")
                         [:self.o["campaigns"]])
            if len(found) < self.o["campaigns"]:
                raise CommandError(f"--into-campaigns {self.o['into_campaigns']!r}: only {len(found)} campaigns, "
                                   f"--campaigns asks for {self.o['campaigns']}")
            return found
        out = []
        for i in range(self.o["campaigns"]):
            campaign = campaign_create(
                name=f"{self.run}-campaign-{i}", task_kinds=[Task.Kind.RANKING], completions_per_prompt=self.o["k"],
                labels_per_task=self.o["overlap"], lease_seconds=self.o["lease_seconds"],
                guidelines="Scale benchmark campaign: rank the completions, best first.",
            )
            out.append(campaign_activate(campaign=campaign))
        return out

    def _labelers(self) -> list[int]:
        """Token-only labeler accounts (an unusable password, as ``user_create_with_role(password=None)``)."""
        n = self.o["labelers"]
        if self.o["reuse_labelers"]:
            ids = list(User.objects.filter(username__startswith=self.o["reuse_labelers"], groups__name=roles.LABELER)
                       .order_by("id").values_list("id", flat=True)[:n])
            if len(ids) < n:
                raise CommandError(f"--reuse-labelers {self.o['reuse_labelers']!r}: only {len(ids)} labelers, "
                                   f"--labelers asks for {n}")
            return ids
        ids = next_ids(User._meta.db_table, User.groups.through._meta.db_table)
        first, first_link = ids[User._meta.db_table], ids[User.groups.through._meta.db_table]
        group = Group.objects.get(name=roles.LABELER).pk
        copy_rows(User._meta.db_table,
                  ("id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
                   "is_staff", "is_active", "date_joined"),
                  (line(first + i, "!" + secrets.token_urlsafe(30), None, False, f"{self.run}-labeler-{i:05d}", "", "",
                        "", False, True, self.now) for i in range(n)), self.stats)
        copy_rows(User.groups.through._meta.db_table, ("id", "user_id", "group_id"),
                  (f"{first_link + i}\t{first + i}\t{group}" for i in range(n)), self.stats)
        return list(range(first, first + n))

    def _tokens(self, campaigns: list[Campaign], labelers: list[int]) -> None:
        users = User.objects.in_bulk(labelers)
        payload = {
            "campaign": campaigns[0].pk, "campaigns": [c.pk for c in campaigns], "tasks": self.plan.open,
            "k": self.o["k"], "overlap": self.o["overlap"],
            "labelers": [{"username": users[i].username, "token": user_token_create(user=users[i], name="scale").key}
                         for i in labelers],
        }
        path = Path(self.o["tokens_file"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        self.stdout.write(f"  {len(labelers)} labeler tokens → {path}")

    # ------------------------------------------------------------------ tasks, prompts, labels

    def _tasks_and_labels(self, campaigns: list[Campaign], labelers: list[int]) -> dict[str, int]:
        plan, k = self.plan, self.o["k"]
        tables = [m._meta.db_table for m in (Prompt, Completion, Task, TaskCompletion, Assignment, Ranking, Rating)]
        first = next_ids(*tables)
        self.first = dict(zip(("prompt", "completion", "task", "link", "assignment", "ranking", "rating"),
                              (first[t] for t in tables)))
        cids = [c.pk for c in campaigns]
        origin = (self.now - timedelta(days=HISTORY_DAYS + 1)).isoformat()
        n = plan.tasks
        labels = plan.labels + plan.history * plan.heavy
        adding = dict(zip(tables, (n, n * k, n, n * k, labels, labels, int(labels * self.o["ratings_fraction"] * k))))
        with indexes_deferred(adding, self.stats, check_foreign_keys=self.o["check_foreign_keys"]):
            self._copy_tasks(n, k, cids, origin)
            labels, ratings = self._labels(cids, labelers)
        return {"campaigns": len(cids), "labelers": len(labelers), "tasks": n, "open tasks": self._open_count(),
                "prompts": n, "completions": n * k, "labels": labels, "ratings": ratings}

    def _copy_tasks(self, n: int, k: int, cids: list[int], origin: str) -> None:
        first = self.first
        copy_rows(Prompt._meta.db_table,
                  ("id", "created_at", "updated_at", "campaign_id", "messages", "author_id", "source_id",
                   "content_hash", "category", "metadata"),
                  self._prompt_rows(n, cids, origin), self.stats)
        copy_rows(Completion._meta.db_table,
                  ("id", "created_at", "updated_at", "prompt_id", "model_version_id", "text", "generation_settings"),
                  (f"{first['completion'] + t * k + j}\t{origin}\t{origin}\t{first['prompt'] + t}\t\\N\t"
                   f"Candidate answer {j} for prompt {t}: a short reply.\t{{}}"
                   for t in range(n) for j in range(k)), self.stats)
        copy_rows(Task._meta.db_table,
                  ("id", "created_at", "updated_at", "campaign_id", "prompt_id", "kind", "required_labels",
                   "submitted_count", "active_leases", "priority", "status", "gold_answer"),
                  self._task_rows(n, cids, origin), self.stats)
        copy_rows(TaskCompletion._meta.db_table, ("id", "task_id", "completion_id"),
                  (f"{first['link'] + t * k + j}\t{first['task'] + t}\t{first['completion'] + t * k + j}"
                   for t in range(n) for j in range(k)), self.stats)

    def _open_count(self) -> int:
        return self.plan.open + (self.plan.history if self.o["history_on"] == "open" else 0)

    def _prompt_rows(self, n: int, cids: list[int], origin: str):
        authors, first, prefix = self.o["authors"], self.first["prompt"], self.o["prefix"]
        for t in range(n):
            # Plain ASCII, single spaces, no quotes: already normalized, so the JSON is built by hand
            # (checked against prompt_content_hash on the first row).
            content = f"[{self.run}] Scale prompt {t}: explain topic #{t} briefly."
            messages = f'[{{"role":"user","content":"{content}"}}]'
            digest = hashlib.sha256(f'[["user","{content}"]]'.encode()).hexdigest()
            if t == 0:
                assert digest == prompt_content_hash([{"role": "user", "content": content}])
            yield (f"{first + t}\t{origin}\t{origin}\t{cids[t % len(cids)]}\t{messages}\t{prefix}-author-{t % authors}"
                   f"\t\t{digest}\t{CATEGORIES[t % len(CATEGORIES)]}\t{{}}")

    def _task_rows(self, n: int, cids: list[int], origin):
        plan, history_open = self.plan, self.o["history_on"] == "open"
        for t in range(n):
            labels = plan.labels_on(t)
            if t < plan.history:
                required = labels + plan.overlap if history_open else labels
            elif t < plan.history + plan.open:
                required = plan.overlap
            else:
                required = labels
            status = Task.Status.OPEN if required > labels else Task.Status.DONE
            yield (f"{self.first['task'] + t}\t{origin}\t{origin}\t{cids[t % len(cids)]}\t{self.first['prompt'] + t}"
                   f"\tranking\t{required}\t{labels}\t0\t0\t{status}\t\\N")

    def _labels(self, cids: list[int], labelers: list[int]) -> tuple[int, int]:
        """COPY the submitted assignments; their rankings and ratings are written to temporary files
        on the way (one pass over the random draws) and COPYed after."""
        with tempfile.TemporaryFile("w+") as rankings, tempfile.TemporaryFile("w+") as ratings:
            counter = {"ratings": 0}
            labels = copy_rows(
                Assignment._meta.db_table,
                ("id", "created_at", "updated_at", "task_id", "campaign_id", "labeler_id", "status", "expires_at",
                 "display_order", "submitted_at", "seconds_spent", "skip_reason", "submission_digest"),
                self._assignment_rows(cids, labelers, rankings, ratings, counter), self.stats)
            self._copy_file(Ranking._meta.db_table,
                            ("id", "created_at", "updated_at", "assignment_id", "groups", "none_acceptable"), rankings)
            self._copy_file(Rating._meta.db_table,
                            ("id", "created_at", "updated_at", "assignment_id", "completion_id", "likert", "flags",
                             "note"), ratings)
        return labels, counter["ratings"]

    def _copy_file(self, table: str, columns, handle) -> None:
        handle.seek(0)
        copy_rows(table, columns, (row.rstrip("\n") for row in handle), self.stats)

    def _assignment_rows(self, cids, labelers, rankings, ratings, counter):
        plan, rng, k = self.plan, self.rng, self.o["k"]
        fraction, u, first = self.o["ratings_fraction"], len(labelers), self.first
        # Timestamps on a minute grid, formatted once: isoformat per row was a third of the time.
        lease_min = -(-self.o["lease_seconds"] // 60)
        base = self.now.replace(second=0, microsecond=0) - timedelta(days=HISTORY_DAYS)
        minutes = HISTORY_DAYS * 1440
        stamps = [(base + timedelta(minutes=m)).isoformat() for m in range(minutes + lease_min + 1)]
        a = 0
        for t in range(plan.tasks):
            n = plan.labels_on(t)
            if not n:
                continue
            completion_ids = [first["completion"] + t * k + j for j in range(k)]
            offset = 0 if t < plan.history else (t - plan.history - plan.open) * plan.overlap
            task_cols = f"{first['task'] + t}\t{cids[t % len(cids)]}"
            for j in range(n):
                labeler = labelers[j] if t < plan.history else labelers[(offset + j) % u]
                spent_min = rng.randint(1, 5)  # 1-5 minutes on the task
                leased_m = rng.randrange(0, minutes - spent_min)
                submitted, leased = stamps[leased_m + spent_min], stamps[leased_m]
                order = completion_ids[:]
                rng.shuffle(order)
                groups, rated = self._answer(order, rng), []
                if rng.random() < fraction:
                    rated = [{"completion": c, "likert": rng.randint(1, 7), "flags": [], "note": ""}
                             for c in completion_ids]
                digest = self._digest(groups, rated, check=a < 3)
                aid = first["assignment"] + a
                rankings.write(f"{first['ranking'] + a}\t{submitted}\t{submitted}\t{aid}\t{_json_ids(groups)}\tf\n")
                for r in rated:
                    ratings.write(f"{first['rating'] + counter['ratings']}\t{submitted}\t{submitted}\t{aid}\t"
                                  f"{r['completion']}\t{r['likert']}\t[]\t\n")
                    counter["ratings"] += 1
                yield (f"{aid}\t{leased}\t{submitted}\t{task_cols}\t{labeler}\tsubmitted\t{stamps[leased_m + lease_min]}"
                       f"\t[{','.join(map(str, order))}]\t{submitted}\t{spent_min * 60.0}\t\t{digest}")
                a += 1

    @staticmethod
    def _digest(groups: list, rated: list[dict], check: bool) -> str:
        """``services.submissions._digest`` of the canonical body, its JSON written by hand (sorted
        keys, no spaces) because ``json.dumps(sort_keys=True)`` was most of the generator's time;
        compared with the service's on the first rows."""
        ratings = ",".join(f'{{"completion":{r["completion"]},"flags":[],"likert":{r["likert"]},"note":""}}'
                           for r in rated)
        blob = (f'{{"kind":"ranking","none_acceptable":false,"ranking":{_json_ids(groups)},'
                f'"ratings":[{ratings}]}}')
        digest = hashlib.sha256(blob.encode()).hexdigest()
        if check:
            body = {"kind": Task.Kind.RANKING, "ranking": groups, "ratings": rated, "none_acceptable": False}
            assert digest == _digest(body), "hand-built digest drifted from services.submissions._digest"
        return digest

    @staticmethod
    def _answer(order: list[int], rng: random.Random) -> list[list[int]]:
        """A plausible ranking of the shown completions: best first, now and then a tie (sorted inside
        its group, as ``validation.clean_ranking`` stores it)."""
        groups = [[c] for c in order]
        if len(groups) > 2 and rng.random() < 0.2:
            i = rng.randrange(len(groups) - 1)
            groups[i:i + 2] = [sorted(groups[i] + groups[i + 1])]
        return groups


def _json_ids(groups: list[list[int]]) -> str:
    """``json.dumps(groups, separators=(",", ":"))`` for a list of lists of ints, without json's overhead."""
    return "[" + ",".join("[" + ",".join(map(str, g)) + "]" for g in groups) + "]"
