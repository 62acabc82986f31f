"""URL map: admin, the versioned REST API, its OpenAPI schema and docs, and the SPA."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from labeling.api.errors import json_error_handler
from labeling.api.throttling import throttled_login

# API errors are JSON, always (labeling.api.errors): also those raised outside DRF's views.
handler400 = json_error_handler(400)
handler403 = json_error_handler(403)
handler404 = json_error_handler(404)
handler500 = json_error_handler(500)

urlpatterns = [
    # Before admin.site.urls so the admin's password form shares the API's login throttle.
    path("admin/login/", throttled_login(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("labeling.api.urls")),
    path("", include("labeling.spa_urls")),
]
