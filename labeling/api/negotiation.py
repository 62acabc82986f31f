"""Content negotiation: DRF's, with a shortcut for the request every API client sends.

DRF parses the Accept header into media-type objects and ranks them against each renderer on every
request, about a twentieth of the queue endpoints' web CPU. When the client accepts JSON plainly
(``application/json``, ``*/*`` or no Accept header), there is no URL format override, and JSON is
the first renderer, the answer is known: that renderer and ``application/json``, exactly what
DRF's algorithm returns for those headers. Anything else goes through DRF unchanged.
"""

from rest_framework.negotiation import DefaultContentNegotiation

_PLAIN_JSON = (None, "application/json", "*/*")


class JsonFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        meta = request._request.META  # the Django request: no DRF attribute proxying
        if (
            not format_suffix
            and not meta.get("QUERY_STRING")
            and meta.get("HTTP_ACCEPT") in _PLAIN_JSON
            and renderers
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
