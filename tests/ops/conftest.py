"""Fixtures for exports, training jobs and the Celery integration: labeled data built straight
through the ORM (the shape the queue services leave behind), and a private data folder."""
from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Demonstration, Prompt, Ranking, Rating, Task

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def data_dir(settings, tmp_path):
    """A private PREFLOOP_DATA_DIR (snapshots, job folders) for one test."""
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    return settings.PREFLOOP_DATA_DIR


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One private model cache per test session: the tiny model is built into it once, in seconds."""
    return tmp_path_factory.mktemp("ops-model-cache")


class LabeledData:
    """Builds a campaign with prompts by several authors, ranking + demonstration tasks, and submissions."""

    def __init__(self, name="export-campaign", k=3):
        self.k = k
        self.campaign = Campaign.objects.create(
            name=name, status=Campaign.Status.ACTIVE, task_kinds=["demonstration", "ranking"],
            completions_per_prompt=k, labels_per_task=1,
        )
        User = get_user_model()
        self.labelers = [User.objects.create(username=f"{name}-labeler{i}") for i in range(3)]

    def prompt(self, i: int, author: str, messages=None, category="open_qa") -> Prompt:
        messages = messages or [{"role": "user", "content": f"Question {i} from {author}?"}]
        return Prompt.objects.create(
            campaign=self.campaign, messages=messages, author_id=author, category=category,
            content_hash=hashlib.sha256(f"{self.campaign.pk}:{i}:{author}".encode()).hexdigest(),
        )

    def ranking_task(self, prompt: Prompt) -> tuple[Task, list[Completion]]:
        completions = [Completion.objects.create(prompt=prompt, text=f"answer {j} to prompt {prompt.pk}")
                       for j in range(self.k)]
        task = Task.objects.create(campaign=self.campaign, prompt=prompt, kind=Task.Kind.RANKING)
        task.completions.set(completions)
        return task, completions

    def assignment(self, task: Task, labeler, status=Assignment.Status.SUBMITTED) -> Assignment:
        return Assignment.objects.create(
            task=task, campaign=task.campaign, labeler=labeler, status=status, expires_at=timezone.now() + timedelta(minutes=30),
            submitted_at=timezone.now() if status == Assignment.Status.SUBMITTED else None,
        )

    def rank(self, task, completions, labeler, groups_idx, likerts=None, status=Assignment.Status.SUBMITTED):
        """Submit a ranking given as index groups into ``completions``."""
        a = self.assignment(task, labeler, status)
        Ranking.objects.create(assignment=a, groups=[[completions[i].pk for i in g] for g in groups_idx])
        for i, likert in enumerate(likerts or []):
            Rating.objects.create(assignment=a, completion=completions[i], likert=likert,
                                  flags=["hallucination"] if likert < 3 else [])
        return a

    def demonstrate(self, prompt, labeler, text, status=Assignment.Status.SUBMITTED):
        task = Task.objects.create(campaign=self.campaign, prompt=prompt, kind=Task.Kind.DEMONSTRATION)
        a = self.assignment(task, labeler, status)
        Demonstration.objects.create(assignment=a, text=text)
        return a


@pytest.fixture
def labeled_factory(db):
    return LabeledData


@pytest.fixture
def labeled(db):
    """A campaign with 12 prompts by 6 authors: 12 ranked comparisons and 12 demonstrations."""
    data = LabeledData()
    for i in range(12):
        author = f"author-{i % 6}"
        prompt = data.prompt(i, author)
        task, comps = data.ranking_task(prompt)
        data.rank(task, comps, data.labelers[i % 3], [[2], [0, 1]] if i % 2 else [[1], [0], [2]], likerts=[5, 2, 7])
        data.demonstrate(prompt, data.labelers[(i + 1) % 3], f"A careful answer to question {i}.")
    return data


@pytest.fixture
def redis_broker():
    """This process publishes to the test broker (an emptied Redis db); restored afterwards."""
    from config.celery import app as celery_app
    from celery_workers import BROKER, point_celery_at, redis_or_skip

    redis_or_skip(BROKER).flushdb()
    before = celery_app.conf.broker_url
    point_celery_at(BROKER)
    yield BROKER
    point_celery_at(before)


@pytest.fixture
def worker(redis_broker, data_dir, model_cache, settings, tmp_path):
    """A real `celery worker` process for both queues, on the test database; yields (process, log path)."""
    from celery_workers import start_worker, stop_worker, worker_env

    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    log_path = tmp_path / "worker.log"
    proc = start_worker(worker_env(broker=redis_broker, data_dir=data_dir, model_cache=model_cache), log_path)
    yield proc, log_path
    stop_worker(proc)
