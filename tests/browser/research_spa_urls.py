"""The app's URLs plus the SPA's ``/research/...`` routes, for the research browser test.

``labeling/spa_urls.py`` (backend, owned elsewhere) must serve ``index.html`` for ``/research/...`` like it
does for ``/admin-ui/...``. Until it does, ``test_browser_research.py`` points ROOT_URLCONF here; once it
does, the test detects that and uses the real URLs (this module is then unused and can be deleted).
"""
from django.urls import re_path

from config.urls import urlpatterns as app_urlpatterns
from labeling.spa_urls import spa_index

urlpatterns = [re_path(r"^research(?:/.*)?$", spa_index, name="spa-research"), *app_urlpatterns]
