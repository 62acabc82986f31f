"""URLs of the research endpoints (labeling.api.research), included by labeling/api/urls.py."""
from django.urls import path

from labeling.api import research

urlpatterns = [
    path("snapshots", research.SnapshotListCreateApi.as_view(), name="snapshot-list"),
    path("snapshots/<int:snapshot_id>", research.SnapshotDetailApi.as_view(), name="snapshot-detail"),
    path("models", research.ModelVersionListCreateApi.as_view(), name="model-list"),
    path("models/<int:model_id>", research.ModelVersionDetailApi.as_view(), name="model-detail"),
    path("jobs", research.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>", research.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel", research.JobCancelApi.as_view(), name="job-cancel"),
]
