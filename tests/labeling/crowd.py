"""A simulated crowd with planted bad labelers, labeling through the real queue and submit services.

Each ranking task has a hidden true order (a seeded permutation of its completions). Honest
labelers see it through noise (each adjacent pair swapped with ``NOISE``) and rate by it; the
planted ones are:

- ``display``: ranks in the order the completions were shown (position bias), rates by position;
- ``random``: a random ranking and random Likert scores;
- ``careless``: fast (a few seconds) and the same Likert for every output, ranking at random.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from factories import campaign_with_tasks, make_user
from labeling.models import Campaign
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

NOISE = 0.2
PLANTED = ("display", "random", "careless")


@dataclass
class Crowd:
    campaign: Campaign
    truth: dict[int, list[int]]  # task id → completion ids, best first
    users: dict[str, object]  # name → user
    answers: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # name → task → strict order


def _noisy(order: list[int], rng: random.Random) -> list[int]:
    order = list(order)
    for _ in range(2):
        for i in range(len(order) - 1):
            if rng.random() < NOISE:
                order[i], order[i + 1] = order[i + 1], order[i]
    return order


def _answer(kind: str, truth: list[int], shown: list[int], rng: random.Random) -> tuple[list[int], dict, float]:
    """(strict order best first, {completion: likert}, seconds) for one labeler kind."""
    if kind == "display":
        order, seconds = list(shown), rng.uniform(30, 90)
        likert = {c: 7 - i for i, c in enumerate(order)}
    elif kind == "random":
        order, seconds = rng.sample(shown, len(shown)), rng.uniform(30, 90)
        likert = {c: rng.randint(1, 7) for c in order}
    elif kind == "careless":
        order, seconds = rng.sample(shown, len(shown)), rng.uniform(2, 5)
        likert = {c: 4 for c in order}
    else:
        order, seconds = _noisy(truth, rng), rng.uniform(30, 90)
        true_pos = {c: i for i, c in enumerate(truth)}
        likert = {c: max(1, min(7, 6 - true_pos[c] + rng.choice((-1, 0, 0, 1)))) for c in order}
    return order, likert, seconds


def simulate_crowd(*, tasks: int = 60, k: int = 4, honest: int = 4, seed: int = 7) -> Crowd:
    """Every labeler (``honest`` good ones + the three planted) labels every task of a new campaign."""
    rng = random.Random(seed)
    names = [f"good{i}" for i in range(honest)] + list(PLANTED)
    campaign = campaign_with_tasks(n=tasks, k=k, overlap=len(names))
    truth = {}
    for task in campaign.tasks.prefetch_related("completions"):
        ids = sorted(c.pk for c in task.completions.all())
        truth[task.pk] = rng.sample(ids, len(ids))
    crowd = Crowd(campaign=campaign, truth=truth, users={n: make_user("labeler", username=f"{n}-{seed}-{campaign.pk}")
                                                         for n in names})
    for name, user in crowd.users.items():
        kind = name if name in PLANTED else "good"
        mine = crowd.answers.setdefault(name, {})
        while (a := assignment_next(labeler=user, campaign_id=campaign.pk)) is not None:
            order, likert, seconds = _answer(kind, truth[a.task_id], a.display_order, rng)
            body = {"ranking": [[c] for c in order],
                    "ratings": [{"completion": c, "likert": v} for c, v in likert.items()]}
            assignment_submit(assignment_id=a.pk, labeler=user, data=body, seconds_spent=seconds)
            mine[a.task_id] = order
    return crowd
