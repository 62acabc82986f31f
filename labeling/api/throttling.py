"""Password-guessing brakes shared by every login door (API token, SPA session, Django admin)."""
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_protect
from rest_framework.throttling import SimpleRateThrottle


class AuthAttemptThrottle(SimpleRateThrottle):
    """Counts login attempts per client IP under the ``auth`` rate (settings ``DEFAULT_THROTTLE_RATES``).

    The client IP comes from DRF's ``get_ident``, which trusts ``X-Forwarded-For`` only as far as
    ``NUM_PROXIES`` says, so a forged header cannot reset the count.
    """

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_login(login_view):
    """Wrap a Django login view (the admin's) so POSTs share the API's per-IP attempt budget."""

    @csrf_protect
    def view(request, *args, **kwargs):
        if request.method == "POST" and not AuthAttemptThrottle().allow_request(request, None):
            return HttpResponse("Too many login attempts; try again in a minute.", status=429,
                                content_type="text/plain; charset=utf-8")
        return login_view(request, *args, **kwargs)

    return view
