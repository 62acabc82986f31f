"""Django admin for every model. Counters, digests and snapshots are read-only: they are owned
by the services (queue accounting, idempotency) or immutable by design."""

from django.contrib import admin

from labeling import models


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "parent", "reward_model", "job", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "artifact_path")
    raw_id_fields = ("parent", "reward_model", "job")
    readonly_fields = ("created_at", "updated_at")


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "completions_per_prompt", "labels_per_task", "priority", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)
    raw_id_fields = ("sampling_policy", "created_by")
    readonly_fields = ("created_at", "updated_at")


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("id", "__str__", "campaign", "category", "author_id", "created_at")
    list_filter = ("category", "campaign")
    search_fields = ("author_id", "source_id", "content_hash")
    raw_id_fields = ("campaign",)
    readonly_fields = ("content_hash", "created_at", "updated_at")
    list_select_related = ("campaign",)


@admin.register(models.Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ("id", "__str__", "prompt", "model_version", "created_at")
    list_filter = ("model_version",)
    search_fields = ("text",)
    raw_id_fields = ("prompt", "model_version")
    readonly_fields = ("created_at", "updated_at")


@admin.register(models.Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "campaign", "status", "priority", "required_labels", "submitted_count", "active_leases")
    list_filter = ("kind", "status", "campaign")
    search_fields = ("=id", "=prompt__id")
    raw_id_fields = ("campaign", "prompt", "completions")
    # The queue keeps these in step with the assignments; editing them by hand breaks the accounting.
    readonly_fields = ("submitted_count", "active_leases", "created_at", "updated_at")
    list_select_related = ("campaign",)


@admin.register(models.Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "labeler", "campaign", "status", "expires_at", "submitted_at", "seconds_spent")
    list_filter = ("status", "campaign")
    search_fields = ("labeler__username", "=task__id")
    raw_id_fields = ("task", "campaign", "labeler")
    readonly_fields = (
        "task", "campaign", "labeler", "status", "display_order", "submitted_at", "submission_digest",
        "created_at", "updated_at",
    )
    list_select_related = ("task", "labeler", "campaign")
    date_hierarchy = "created_at"


@admin.register(models.Demonstration)
class DemonstrationAdmin(admin.ModelAdmin):
    list_display = ("id", "assignment", "created_at")
    search_fields = ("text", "assignment__labeler__username")
    raw_id_fields = ("assignment",)
    readonly_fields = ("assignment", "created_at", "updated_at")


@admin.register(models.Ranking)
class RankingAdmin(admin.ModelAdmin):
    list_display = ("id", "assignment", "groups", "none_acceptable", "created_at")
    list_filter = ("none_acceptable",)
    search_fields = ("assignment__labeler__username",)
    raw_id_fields = ("assignment",)
    readonly_fields = ("assignment", "groups", "created_at", "updated_at")


@admin.register(models.Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("id", "assignment", "completion", "likert", "flags", "created_at")
    list_filter = ("likert",)
    search_fields = ("assignment__labeler__username", "note")
    raw_id_fields = ("assignment", "completion")
    readonly_fields = ("assignment", "completion", "created_at", "updated_at")


@admin.register(models.DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are immutable: everything is read-only; they are made by the export service."""

    list_display = ("id", "name", "kind", "rows", "sha256", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "sha256", "path")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.get_fields() if f.concrete]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the view permission still shows the detail page, read-only


@admin.register(models.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "attempts", "iteration", "stage", "heartbeat_at", "created_by",
                    "created_at")
    list_filter = ("kind", "status")
    search_fields = ("=id", "output_dir", "error")
    raw_id_fields = ("created_by", "input_snapshots", "input_models", "iteration")
    readonly_fields = (
        "status", "progress", "heartbeat_at", "started_at", "finished_at", "log_tail", "metrics", "result",
        "error", "attempts", "pid", "host", "dispatched_at", "inputs", "created_at", "updated_at",
    )


@admin.register(models.Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    """Created and advanced by ``labeling.services.evaluations``: the links and the judge's scores are read-only."""

    list_display = ("id", "name", "status", "campaign", "judge", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)
    raw_id_fields = ("campaign", "prompt_campaign", "prompt_snapshot", "judge", "created_by")
    readonly_fields = ("campaign", "policies", "jobs", "judge_scores", "created_at", "updated_at")


@admin.register(models.Iteration)
class IterationAdmin(admin.ModelAdmin):
    """Iterations are started and resumed from the dashboard or the API (their stages are jobs): read-only here."""

    list_display = ("id", "name", "method", "status", "base_model", "created_by", "created_at", "finished_at")
    list_filter = ("status", "method")
    search_fields = ("name",)
    readonly_fields = ("status", "error", "finished_at", "created_at", "updated_at")
    raw_id_fields = ("base_model", "target_campaign", "created_by")


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see and delete (revoke) API tokens; keys are never stored, so never shown."""

    list_display = ("id", "user", "prefix", "name", "created_at", "expires_at")
    search_fields = ("user__username", "prefix", "name")
    readonly_fields = ("user", "prefix", "name", "created_at", "expires_at")
    exclude = ("key_hash", "password_fingerprint")

    def has_add_permission(self, request):
        return False  # a key is shown once, to its owner: POST /api/v1/auth/token

    def has_change_permission(self, request, obj=None):
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written by services only (decisions have side effects on the queue): shown, never edited here."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.get_fields() if f.concrete]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.LabelReview)
class LabelReviewAdmin(_ReadOnlyAdmin):
    list_display = ("id", "assignment", "decision", "signal", "reviewer", "created_at")
    list_filter = ("decision", "signal")
    search_fields = ("=assignment__id", "reason", "reviewer__username")


@admin.register(models.LabelerQualification)
class LabelerQualificationAdmin(_ReadOnlyAdmin):
    list_display = ("id", "campaign", "labeler", "status", "agreement", "decided_at", "reopen_count")
    list_filter = ("status",)
    search_fields = ("labeler__username", "campaign__name")


class _DerivedAdmin(_ReadOnlyAdmin):
    """Derived by the dashboards' sweep and rebuilt by ``manage.py dashboards_rebuild``: shown for
    inspection, never edited or deleted here (a hand edit would be overwritten or go unnoticed)."""

    def has_delete_permission(self, request, obj=None):
        return False


for _model, _columns in (
    (models.ProgressTaskBlock, ("campaign", "kind", "block", "tasks_total", "tasks_done")),
    (models.ProgressTotal, ("campaign", "kind", "tasks_total", "tasks_done")),
    (models.ProgressHour, ("campaign", "hour", "labels")),
    (models.ProgressLabeler, ("campaign", "labeler", "last_submitted_at")),
    (models.DashboardState, ("name", "watermark", "swept_at")),
    (models.DashboardReport, ("key", "campaign", "computed_at")),
):
    admin.site.register(_model, type(f"{_model.__name__}Admin", (_DerivedAdmin,), {"list_display": _columns}))
