"""Security headers for every response the app serves.

``ContentSecurityPolicyMiddleware``: every HTML response (the SPA, the Django admin, Swagger UI,
error pages) carries one strict Content-Security-Policy: only our own scripts run (no inline
script, no CDN), nothing frames us. A view that sets its own policy keeps it. Prompts and model
outputs are untrusted text; this is the second line of defence behind rendering them as text.
"""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
