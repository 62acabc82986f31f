"""The training registry: dataset snapshots, jobs, iterations and human evaluations.

Split out of ``labeling.models`` (which re-exports every class here) to keep that module a readable
size; the labeling models (campaigns, prompts, tasks, labels) stay there.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Campaign, ModelVersion, TimeStamped


class DatasetSnapshot(TimeStamped):
    """An immutable export folder (manifest.json + train/valid.jsonl); never edited after creation."""

    class Kind(models.TextChoices):
        SFT = "sft"
        COMPARISONS = "comparisons"
        PROMPTS = "prompts"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    campaigns = models.ManyToManyField(Campaign, blank=True, related_name="snapshots")
    filters = models.JSONField(default=dict, blank=True)
    split = models.JSONField(default=dict, blank=True, help_text='Row counts per split, e.g. {"train": 90, "valid": 10}.')
    path = models.CharField(max_length=1000)
    rows = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)


class Iteration(TimeStamped):
    """One InstructGPT round: export → SFT → reward → PPO-ptx or DPO → generate → evaluate.

    Each stage is a Job pointing back here (``Job.iteration`` + ``Job.stage``); the stages' state is
    read from those jobs (``labeling.selectors.iterations``), never copied onto this row.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Method(models.TextChoices):
        PPO = "ppo"
        DPO = "dpo"

    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.PPO)
    source_campaigns = models.ManyToManyField(Campaign, related_name="iterations")
    target_campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="iterations_fed")
    base_model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="iterations_started")
    params = models.JSONField(default=dict, blank=True, help_text="Per-stage job params: {stage: {field: value}}.")
    skip_sft = models.BooleanField(default=False, help_text="The base model (an sft or policy model) is this round's "
                                                            "SFT model: no SFT stage is trained.")
    valid_fraction = models.FloatField(default=0.1)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self):
        return f"iteration {self.name} ({self.status})"


class Job(TimeStamped):
    """A training/generation run launched as a ``python -m training`` child process by a gpu-queue worker
    (or, for ``export``, a snapshot export, and for ``import``, a large prompt file import, both run by a
    default-queue worker)."""

    class Kind(models.TextChoices):
        SFT = "sft"
        REWARD = "reward"
        PPO = "ppo"
        DPO = "dpo"
        GENERATE = "generate"
        EVALUATE = "evaluate"
        EXPORT = "export"
        SCORE = "score"
        IMPORT = "import"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    input_snapshots = models.ManyToManyField(DatasetSnapshot, blank=True, related_name="jobs")
    input_models = models.ManyToManyField(ModelVersion, blank=True, related_name="consumer_jobs")
    output_dir = models.CharField(max_length=1000, blank=True)
    progress = models.FloatField(default=0.0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log_tail = models.TextField(blank=True)
    metrics = models.JSONField(default=list, blank=True, help_text="Per-step metrics rows, for plots.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    pid = models.IntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    inputs = models.JSONField(default=dict, blank=True,
                              help_text='Named inputs as chosen: {"prompts": {"type": "snapshot", "id": 7, "name": "..."}}.')
    host = models.CharField(max_length=255, blank=True, help_text="Machine whose runner started ``pid``.")
    dispatched_at = models.DateTimeField(null=True, blank=True,
                                         help_text="Last time the job was sent to the broker (null: not yet).")
    idempotency_key = models.CharField(max_length=100, blank=True)
    iteration = models.ForeignKey(Iteration, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    stage = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["created_by", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="job_idempotency_key_per_user"),
        ]
        indexes = [
            # The jobs list's ORDER BY, unfiltered and filtered by status (issue 12, item 4).
            models.Index(fields=["-created_at", "-id"], name="job_list_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="job_list_status_idx"),
        ]

    def __str__(self):
        return f"{self.kind} job #{self.pk} ({self.status})"


class Evaluation(TimeStamped):
    """A blind human evaluation of two or more policies on held-out prompts (issue 11).

    Its ``campaign`` is an ordinary ranking campaign with K=2: one task per prompt and pair of policies,
    so labelers see the usual ranking screen (shuffled sides, no model names; a tie is one group). The
    policies' samples come from one ``generate`` job each (``jobs``), with the same settings and seed.
    """

    class Status(models.TextChoices):
        GENERATING = "generating"
        LABELING = "labeling"
        FAILED = "failed"

    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.GENERATING, db_index=True)
    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="evaluation")
    policies = models.ManyToManyField(ModelVersion, related_name="evaluations")
    prompt_campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="evaluations_drawn")
    prompt_snapshot = models.ForeignKey(DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="evaluations_drawn",
                                        help_text="The held-out prompts as given (a prompts snapshot), if not a campaign.")
    generation_settings = models.JSONField(default=dict, blank=True,
                                           help_text="generate params shared by every policy (k=1, seed, ...).")
    judge = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="evaluations_judged", help_text="Optional reward model scoring the same texts.")
    jobs = models.ManyToManyField(Job, blank=True, related_name="evaluations",
                                  help_text="Its generate jobs (one per policy) and the judge's score job.")
    judge_scores = models.JSONField(default=dict, blank=True, help_text="Completion id → the judge's score.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self):
        return f"evaluation {self.name} ({self.status})"
