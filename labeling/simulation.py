"""Simulated labelers with a hidden preference, driving the real system through its REST API.

A ``HiddenPreference`` scores a text (shorter, longer, or saying a marker word more). A
``SimulatedLabeler`` holds an API token and works the queue like a person: ``POST /queue/next``, then
submits a demonstration (a helpful answer of varying length) or a ranking of the K outputs by the
hidden score plus Gaussian noise (``noise`` is its standard deviation in score units: 0 = a perfect
labeler). Nothing here touches the database
directly; ``labeling.management.commands.simulate_loop`` uses it to run InstructGPT rounds.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from itertools import combinations

from rest_framework.test import APIClient

API = "/api/v1"


@dataclass
class HiddenPreference:
    """What the simulated labelers want, as a score (higher is better).

    ``marker:WORD``: say WORD more (case-insensitive, whole word); ``shorter`` / ``longer``: fewer / more
    characters. A marker is the natural stand-in for "follows the guideline", but a model that never says
    the word gives the labelers nothing to tell apart; length always varies, so it is the default.
    """

    rule: str = "shorter"

    def __post_init__(self):
        if not (self.rule in ("shorter", "longer") or (self.rule.startswith("marker:") and len(self.rule) > 7)):
            raise ValueError(f"unknown preference {self.rule!r}: marker:WORD, shorter or longer")

    @property
    def marker(self) -> str | None:
        return self.rule.split(":", 1)[1] if self.rule.startswith("marker:") else None

    def score(self, text: str) -> float:
        if self.marker:
            return float(len(re.findall(rf"\b{re.escape(self.marker)}\b", text, flags=re.IGNORECASE)))
        return float(-len(text) if self.rule == "shorter" else len(text))

    def ranking(self, ids_texts: list[tuple[int, str]], noise: float, rng: random.Random) -> list[list[int]]:
        """Groups best first, by the score plus Gaussian noise (``noise`` = its std-dev in score units);
        equal noise-free scores tie when there is no noise."""
        noisy = {cid: self.score(text) + (rng.gauss(0.0, noise) if noise > 0 else 0.0) for cid, text in ids_texts}
        levels = sorted(set(noisy.values()), reverse=True)
        return [[cid for cid, value in noisy.items() if value == level] for level in levels]

    def demonstration(self, prompt_text: str, rng: random.Random) -> str:
        """An answer a helpful labeler would write: an opener, the request restated, then one to three sentences.

        Demonstrators write helpful answers; they do not optimise the hidden preference, which the rankings
        reveal (as in InstructGPT, where the comparisons teach what the demonstrations do not). So the length
        and the wording vary, SFT learns that spread, and the rankings have something left to teach. A fixed
        answer at the preference's optimum made SFT copy it verbatim and left PPO nothing to win.
        """
        topic = " ".join(prompt_text.split()[:8]).rstrip(".?!")
        opener = rng.choice(["Sure", "Of course", "Happy to help", "Certainly"])
        sentences = rng.sample(DEMO_SENTENCES, rng.randint(1, 3))
        if self.marker and rng.random() < 0.5:
            sentences[rng.randrange(len(sentences))] = f"{self.marker.capitalize()} ask if you want more."
        return f"{opener}: {topic}. " + " ".join(sentences)


# What the simulated demonstrators add after restating the request; generic, so any prompt fits.
DEMO_SENTENCES = ["It is a good subject to start with.", "There is more to it than most people expect.",
                  "A short book or a local guide is a fine place to learn more.",
                  "Its history explains a lot about how it works today.", "Small details make it interesting.",
                  "Many people enjoy it for years once they start.", "Try it yourself and see what you notice.",
                  "The basics take an afternoon to learn."]


def pair_accuracy(pairs: list[tuple[float, float]]) -> float | None:
    """Share of (better, worse) pairs a scorer orders correctly; equal scores count half."""
    if not pairs:
        return None
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)


def ranked_pairs(groups: list[list[int]]) -> list[tuple[int, int]]:
    """(better, worse) index pairs a ranking orders; ties give none."""
    return [(w, l) for hi, lo in combinations(range(len(groups)), 2) for w in groups[hi] for l in groups[lo]]


@dataclass
class SimulatedLabeler:
    """One labeler with a token, working the queue through the API."""

    client: APIClient
    preference: HiddenPreference
    noise: float
    rng: random.Random
    done: dict = field(default_factory=lambda: {"demonstration": 0, "ranking": 0})

    def work_one(self) -> bool:
        """Lease the next task and submit it; False when the queue has nothing for this labeler."""
        r = self.client.post(f"{API}/queue/next", {}, format="json")
        if r.status_code == 204:
            return False
        assert r.status_code == 200, r.content
        assignment = r.json()
        task = assignment["task"]
        if task["kind"] == "demonstration":
            body = {"text": self.preference.demonstration(task["prompt"]["messages"][-1]["content"], self.rng)}
        else:
            items = [(c["id"], c["text"]) for c in task["completions"]]
            body = {"ranking": self.preference.ranking(items, self.noise, self.rng)}
        body["seconds_spent"] = float(self.rng.randint(20, 90))
        s = self.client.post(f"{API}/assignments/{assignment['assignment_id']}/submit", body, format="json")
        assert s.status_code in (200, 201), s.content
        self.done[task["kind"]] += 1
        return True


def work_queue(labelers: list[SimulatedLabeler], limit: int = 100_000) -> dict:
    """Let the labelers take turns until none gets a task; returns the counts by kind."""
    active = list(labelers)
    steps = 0
    while active and steps < limit:
        for labeler in list(active):
            if not labeler.work_one():
                active.remove(labeler)
            steps += 1
    totals = {"demonstration": 0, "ranking": 0}
    for labeler in labelers:
        for kind, n in labeler.done.items():
            totals[kind] += n
    return totals
