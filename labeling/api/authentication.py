"""Token authentication for the API: DRF's header parsing, our tokens (``labeling.models.ApiToken``).

A token is refused when it has expired, when its user's password changed since it was made (the
fingerprint no longer matches, as for Django sessions) or when its user is inactive; in the last
two cases it is deleted too, so a token used while its user was deactivated stays dead after a
reactivation.

The lookup is one query: the token, its user and the user's role names come back together
(``selectors.users.token_with_user_and_roles``), as the queue's hot path would otherwise pay a
second round trip for the roles. Nothing is cached across requests: a revoked token or a removed
role stops working on the very next request, in every process.
"""

from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from labeling.selectors.users import token_with_user_and_roles
from labeling.services.users import token_key_hash, user_token_revoke


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``; same header parsing and error messages as DRF's."""

    def authenticate_credentials(self, key):
        found = token_with_user_and_roles(key_hash=token_key_hash(key))
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active or not constant_time_compare(token.password_fingerprint, user.get_session_auth_hash()):
            user_token_revoke(user=user, token_id=token.pk)
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(_("Token expired: ask POST /auth/token for a new one."))
        return user, token
