"""Prefloop's data model (DESIGN §2).

Models hold data and constraints only: every write goes through ``labeling.services``
and every non-trivial read through ``labeling.selectors``.
"""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ModelVersion(TimeStamped):
    """A model artifact on disk: a base model, an SFT policy, a reward model or an RL policy."""

    class Kind(models.TextChoices):
        BASE = "base"
        SFT = "sft"
        REWARD = "reward"
        POLICY = "policy"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    reward_model = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="policies_trained"
    )
    artifact_path = models.CharField(max_length=1000, help_text="A local HF folder or a registered name (tiny, smollm2-135m-instruct).")
    metrics = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions")

    class Meta:
        # The models list's ORDER BY, so a page is an index walk (issue 12, item 4).
        indexes = [models.Index(fields=["-created_at", "-id"], name="modelversion_list_idx")]

    def __str__(self):
        return f"{self.name} ({self.kind})"


class Campaign(TimeStamped):
    """A prompt campaign: what labelers are asked to do, how often, and with which outputs."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"

    class TaskKind(models.TextChoices):
        DEMONSTRATION = "demonstration"
        RANKING = "ranking"

    name = models.CharField(max_length=200, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to labelers beside each task.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    task_kinds = models.JSONField(default=list, help_text='Subset of ["demonstration", "ranking"].')
    completions_per_prompt = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(2), MaxValueValidator(9)], help_text="K outputs ranked per prompt."
    )
    labels_per_task = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)], help_text="Overlap: labelers per task."
    )
    gold_fraction = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    lease_seconds = models.PositiveIntegerField(default=1800, validators=[MinValueValidator(30)])
    priority = models.IntegerField(default=0, help_text="Higher is served first; copied onto new tasks.")
    sampling_policy = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="sampling_campaigns"
    )
    generation_settings = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns_created"
    )
    iteration_every_rankings = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Start the next iteration when this many new rankings arrived since the last one (null: never).",
    )
    iteration_template = models.JSONField(
        default=dict, blank=True, help_text='What an automatic iteration runs: {"method": "ppo", "params": {...}}.'
    )
    qualification_gold_tasks = models.PositiveSmallIntegerField(
        default=0, help_text="Gold ranking tasks a labeler must answer before real tasks (0: no qualification)."
    )
    qualification_min_agreement = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pairwise agreement with the gold answers needed to pass the qualification.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(completions_per_prompt__gte=2) & Q(completions_per_prompt__lte=9), name="campaign_k_2_9"
            ),
            models.CheckConstraint(condition=Q(labels_per_task__gte=1), name="campaign_overlap_positive"),
        ]

    def __str__(self):
        return self.name


class Prompt(TimeStamped):
    """A (possibly multi-turn) prompt. Splits are made by ``author_id`` so no author straddles train/valid."""

    class Category(models.TextChoices):
        GENERATION = "generation"
        OPEN_QA = "open_qa"
        BRAINSTORMING = "brainstorming"
        CHAT = "chat"
        REWRITE = "rewrite"
        SUMMARIZATION = "summarization"
        CLASSIFICATION = "classification"
        CLOSED_QA = "closed_qa"
        EXTRACTION = "extraction"
        OTHER = "other"

    # Prompts, their completions and tasks are written a million at a time (issue 12, item 3): every
    # index costs each imported row, so these tables keep only the indexes a query reads. No query
    # filters prompts by author, category or age across campaigns (splits and exports read a
    # campaign's prompts through the campaign index), and a completion's age is never queried.
    created_at = models.DateTimeField(auto_now_add=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="prompts")
    messages = models.JSONField(help_text='[{"role": "user"|"assistant"|"system", "content": "..."}]')
    author_id = models.CharField(max_length=200, blank=True)
    source_id = models.CharField(max_length=200, blank=True)
    # sha256 of the normalized message list (labeling.services.prompts.prompt_content_hash).
    content_hash = models.CharField(max_length=64)
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.OTHER)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "content_hash"], name="prompt_unique_per_campaign")]

    def __str__(self):
        last = self.messages[-1]["content"] if self.messages else ""
        return last[:80]


class Completion(TimeStamped):
    """One candidate output for a prompt; ``model_version`` null means a human wrote it."""

    created_at = models.DateTimeField(auto_now_add=True)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    # Indexed where set (completion_policy_idx): imported and human completions have none.
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="completions", db_index=False
    )
    text = models.TextField()
    generation_settings = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model_version"], condition=Q(model_version__isnull=False),
                                name="completion_policy_idx")]

    def __str__(self):
        return self.text[:80]


class Task(TimeStamped):
    """A unit of labeling work: write a demonstration for a prompt, or rate + rank its completions.

    ``submitted_count`` and ``active_leases`` are counters kept by the queue services under a row
    lock, so picking the next task never has to count assignments.
    """

    class Kind(models.TextChoices):
        DEMONSTRATION = "demonstration"
        RANKING = "ranking"

    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"
        CANCELLED = "cancelled"

    # Not indexed alone: every task index below starts with the campaign, or serves the queue.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    completions = models.ManyToManyField(Completion, blank=True, related_name="tasks")
    required_labels = models.PositiveSmallIntegerField(default=1)
    submitted_count = models.PositiveSmallIntegerField(default=0)
    active_leases = models.PositiveSmallIntegerField(default=0)
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    gold_answer = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            # The queue's scan walks open tasks by priority, oldest first. Partial: done tasks (the
            # bulk of a mature campaign) never enter the index, so the scan stays short.
            models.Index(fields=["-priority", "id"], condition=Q(status="open"), name="task_queue_open_idx"),
            # The same scan restricted to one campaign (``next`` with ``{"campaign": id}``).
            models.Index(
                fields=["campaign", "-priority", "id"], condition=Q(status="open"), name="task_queue_campaign_idx"
            ),
            models.Index(fields=["campaign", "kind", "status"], name="task_campaign_kind_status_idx"),
            # Gold tasks served at the campaign's gold_fraction (services.queue): their own short scan.
            models.Index(fields=["campaign", "-priority", "id"], condition=Q(status="open") & Q(gold_answer__isnull=False),
                         name="task_queue_gold_idx"),
        ]
        constraints = [
            # Submitted labels plus live leases never exceed the overlap: the queue's core invariant,
            # also enforced by the database in case a service is ever wrong.
            models.CheckConstraint(
                condition=Q(required_labels__gte=models.F("submitted_count") + models.F("active_leases")),
                name="task_slots_not_oversold",
            ),
            # One demonstration task per prompt (ranking tasks repeat: one per batch of policy outputs).
            models.UniqueConstraint(
                fields=["prompt"], condition=Q(kind="demonstration"), name="task_one_demonstration_per_prompt"
            ),
        ]

    def __str__(self):
        return f"{self.kind} task #{self.pk}"


class Assignment(TimeStamped):
    """A labeler's lease on a task. ``display_order`` is the per-assignment shuffle of completion ids."""

    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        EXPIRED = "expired"
        SKIPPED = "skipped"

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="assignments")
    # Copied from the task: lets the queue find "my live lease in this campaign" and the progress
    # page count labels per day without joining tasks.
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="assignments")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    expires_at = models.DateTimeField()
    display_order = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)
    submission_digest = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the canonical submitted body, for idempotent retries."
    )

    class Meta:
        constraints = [
            # The queue never hands the same task twice to one labeler.
            models.UniqueConstraint(fields=["task", "labeler"], name="assignment_once_per_labeler"),
            # At most one lease held per labeler and campaign: two racing "next" calls from one
            # labeler (a double click, two tabs) cannot both burn a task.
            models.UniqueConstraint(
                fields=["labeler", "campaign"], condition=Q(status="leased"), name="assignment_one_live_lease"
            ),
        ]
        indexes = [
            models.Index(fields=["labeler", "status"], name="assignment_labeler_status_idx"),
            # The expiry sweep: only leased rows, by deadline.
            models.Index(fields=["expires_at"], condition=Q(status="leased"), name="assignment_lease_expiry_idx"),
            models.Index(fields=["campaign", "submitted_at"], name="assignment_campaign_submit_idx"),
        ]

    def __str__(self):
        return f"assignment #{self.pk} ({self.status})"


class Demonstration(TimeStamped):
    """The text a labeler wrote as the ideal assistant reply to a prompt (an SFT example)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="demonstration")
    text = models.TextField()


class Ranking(TimeStamped):
    """Ordered groups of completion ids, best first; ids in one group are tied, e.g. ``[[3], [1, 4], [2]]``."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="ranking")
    groups = models.JSONField()
    none_acceptable = models.BooleanField(default=False)


# InstructGPT's per-output metadata (Ouyang et al. 2022, Table 3), stored as a list of these names.
RATING_FLAGS = (
    "fails_to_follow_instruction",
    "hallucination",
    "inappropriate_for_customer_assistant",
    "sexual_content",
    "violent_content",
    "encourages_violence_or_abuse",
    "harmful_advice",
    "denigrates_protected_class",
    "expresses_opinion",
    "expresses_moral_judgment",
)


class Rating(TimeStamped):
    """A labeler's Likert 1-7 judgement of one completion plus the InstructGPT metadata flags."""

    FLAGS = RATING_FLAGS

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="ratings")
    completion = models.ForeignKey(Completion, on_delete=models.PROTECT, related_name="ratings")
    likert = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)])
    flags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "completion"], name="rating_once_per_completion"),
            models.CheckConstraint(condition=Q(likert__gte=1) & Q(likert__lte=7), name="rating_likert_1_7"),
        ]


class ApiToken(models.Model):
    """An API token (``Authorization: Token <key>``) with a lifetime; a user may hold several.

    Only a SHA-256 of the key is stored (the key is shown once, when made), so a database leak
    yields no usable token. ``password_fingerprint`` is the user's session auth hash when the
    token was made (an HMAC of the password hash): after a password change it no longer matches
    and the token is refused and deleted, exactly as Django ends the user's sessions.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart.")
    name = models.CharField(max_length=100, blank=True)
    password_fingerprint = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.prefix}… ({self.name or 'token'})"


# The training registry (snapshots, jobs, iterations, evaluations) lives in its own module.
from labeling.models_registry import DatasetSnapshot, Evaluation, Iteration, Job  # noqa: E402,F401

# Label quality's records (reviews, qualifications) live in their own module, as do the dashboards' figures.
from labeling.models_quality import LabelerQualification, LabelReview  # noqa: E402,F401

# Materialised dashboard figures live in their own module (they are derived data, never a source of truth).
from labeling.models_dashboards import (  # noqa: E402,F401
    DashboardReport, DashboardState, ProgressHour, ProgressLabeler, ProgressTaskBlock, ProgressTotal,
)
