"""Token authentication for the API: DRF's, with the lookup made cheaper.

DRF's ``TokenAuthentication`` loads the token with its user (one query) and our role permissions
then load the user's groups (a second query): two round trips on every request of the queue's hot
path. Here the token, its user and the user's role names come back in one query
(``selectors.users.token_with_user_and_roles``). Nothing is cached across requests: a revoked
token (``POST /auth/logout``, ``user_token_revoke``) or a removed role stops working on the very
next request, in every process.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from labeling.selectors.users import token_with_user_and_roles


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``; same header parsing and error messages as DRF's."""

    def authenticate_credentials(self, key):
        found = token_with_user_and_roles(key=key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
