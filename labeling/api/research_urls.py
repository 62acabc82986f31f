"""URLs of the research endpoints (snapshots, models, jobs, iterations), included by labeling/api/urls.py."""
from django.urls import path

from labeling.api import iterations, jobs, research

urlpatterns = [
    path("snapshots", research.SnapshotListCreateApi.as_view(), name="snapshot-list"),
    path("snapshots/<int:snapshot_id>", research.SnapshotDetailApi.as_view(), name="snapshot-detail"),
    path("models", research.ModelVersionListCreateApi.as_view(), name="model-list"),
    path("models/<int:model_id>", research.ModelVersionDetailApi.as_view(), name="model-detail"),
    path("job-kinds", jobs.JobKindsApi.as_view(), name="job-kinds"),
    path("jobs", jobs.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/estimate", jobs.JobEstimateApi.as_view(), name="job-estimate"),
    path("jobs/<int:job_id>", jobs.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel", jobs.JobCancelApi.as_view(), name="job-cancel"),
    path("iterations", iterations.IterationListCreateApi.as_view(), name="iteration-list"),
    path("iterations/<int:iteration_id>", iterations.IterationDetailApi.as_view(), name="iteration-detail"),
    path("iterations/<int:iteration_id>/cancel", iterations.IterationCancelApi.as_view(), name="iteration-cancel"),
    path("iterations/<int:iteration_id>/resume", iterations.IterationResumeApi.as_view(), name="iteration-resume"),
    path("campaigns/<int:campaign_id>/iteration-trigger", iterations.CampaignIterationTriggerApi.as_view(),
         name="campaign-iteration-trigger"),
]
