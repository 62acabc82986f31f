"""``/api/v1/`` routes, one list per concern (docs/api.md). No trailing slashes, as documented.

To add endpoints, write them in their own module with its own url list and include it here, as
``research_urls`` does for ``labeling/api/research.py``.
"""

from django.urls import include, path

from labeling.api import auth, campaigns, imports, queue

auth_urls = [
    path("auth/token", auth.TokenApi.as_view(), name="auth-token"),
    path("auth/token/rotate", auth.TokenRotateApi.as_view(), name="auth-token-rotate"),
    path("auth/tokens", auth.TokenListApi.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:token_id>", auth.TokenRevokeApi.as_view(), name="auth-token-revoke"),
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/csrf", auth.CsrfApi.as_view(), name="auth-csrf"),
    path("me", auth.MeApi.as_view(), name="me"),
]

queue_urls = [
    path("queue/next", queue.QueueNextApi.as_view(), name="queue-next"),
    path("assignments/<int:assignment_id>", queue.AssignmentDetailApi.as_view(), name="assignment-detail"),
    path("assignments/<int:assignment_id>/submit", queue.AssignmentSubmitApi.as_view(), name="assignment-submit"),
    path("assignments/<int:assignment_id>/skip", queue.AssignmentSkipApi.as_view(), name="assignment-skip"),
]

campaign_urls = [
    path("campaigns", campaigns.CampaignListCreateApi.as_view(), name="campaign-list"),
    path("campaigns/<int:campaign_id>", campaigns.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:campaign_id>/activate", campaigns.CampaignActivateApi.as_view(), name="campaign-activate"),
    path("campaigns/<int:campaign_id>/pause", campaigns.CampaignPauseApi.as_view(), name="campaign-pause"),
    path("campaigns/<int:campaign_id>/archive", campaigns.CampaignArchiveApi.as_view(), name="campaign-archive"),
    path(
        "campaigns/<int:campaign_id>/prompts/import",
        imports.CampaignPromptImportApi.as_view(),
        name="campaign-prompt-import",
    ),
    path(
        "campaigns/<int:campaign_id>/prompts/imports/<int:job_id>",
        imports.CampaignImportJobApi.as_view(),
        name="campaign-prompt-import-job",
    ),
    path("campaigns/<int:campaign_id>/prompts", campaigns.CampaignPromptListApi.as_view(), name="campaign-prompts"),
    path("campaigns/<int:campaign_id>/progress", campaigns.CampaignProgressApi.as_view(), name="campaign-progress"),
]

# Snapshots, model registry, training jobs: labeling/api/research.py (reads via selectors.registry).
research_urls = [path("", include("labeling.api.research_urls"))]

urlpatterns = [*auth_urls, *queue_urls, *campaign_urls, *research_urls]
urlpatterns.append(path("", include("labeling.api.quality")))  # label quality: gold answers, agreement
urlpatterns.append(path("", include("labeling.api.evaluations")))  # human evaluation, leaderboard
urlpatterns.append(path("", include("labeling.api.label_quality")))  # agreement, consensus, signals, review
urlpatterns.append(path("", include("labeling.api.qualification")))  # gold qualification
