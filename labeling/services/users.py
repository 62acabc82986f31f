"""Users and their roles (Django groups named in ``labeling.roles``)."""

import hashlib
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling import roles as role_names
from labeling.models import ApiToken


def user_create_with_role(
    *,
    username: str,
    password: str | None = None,
    roles: Iterable[str] = (),
    email: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
):
    """Create a user and put them in the given role groups.

    Preconditions: ``username`` is not taken; every role is one of ``labeling.roles.ALL_ROLES``
    (the groups are created by migration 0002). ``password=None`` makes an unusable password
    (a token-only account, e.g. for benchmarks). Raises ``ValidationError`` otherwise.
    Password strength validators are deliberately not run: seed scripts use short demo passwords.
    """
    roles = list(dict.fromkeys(roles))
    unknown = sorted(set(roles) - set(role_names.ALL_ROLES))
    if unknown:
        raise ValidationError({"roles": [f"unknown role {r!r}" for r in unknown]})
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"username {username!r} is taken"]})
    with transaction.atomic():
        user = User(username=username, email=email, is_staff=is_staff or is_superuser, is_superuser=is_superuser)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        if roles:
            user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def user_set_roles(*, user, roles: Iterable[str]) -> None:
    """Replace the user's role groups with ``roles`` (other, non-role groups are kept)."""
    roles = set(roles)
    unknown = sorted(roles - set(role_names.ALL_ROLES))
    if unknown:
        raise ValidationError({"roles": [f"unknown role {r!r}" for r in unknown]})
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=role_names.ALL_ROLES).exclude(name__in=roles))
        user.groups.add(*Group.objects.filter(name__in=roles))
    user.__dict__.pop("_prefloop_roles", None)


def token_key_hash(key: str) -> str:
    """What is stored of a token key: its SHA-256 (keys are 160 random bits, so no salt is needed)."""
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def user_token_create(*, user, name: str = "") -> ApiToken:
    """Make a new API token for ``user``; returns it with its key in ``token.key`` (shown once: only
    the key's hash is stored).

    It expires after ``settings.API_TOKEN_LIFETIME`` and dies with a password change (see
    ``ApiToken``). The user's expired tokens are deleted, and beyond ``settings.API_TOKENS_PER_USER``
    live tokens the oldest go, so logging in from scripts again and again cannot pile them up.
    Precondition: an active user.
    """
    key = secrets.token_hex(20)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, key_hash=token_key_hash(key), prefix=key[:8], name=name,
            password_fingerprint=user.get_session_auth_hash(), expires_at=now + settings.API_TOKEN_LIFETIME,
        )
        mine = ApiToken.objects.filter(user=user)
        mine.filter(expires_at__lte=now).delete()
        keep = list(mine.order_by("-created_at", "-id").values_list("id", flat=True)[: settings.API_TOKENS_PER_USER])
        mine.exclude(id__in=keep).delete()
    token.key = key
    return token


def user_token_rotate(*, token: ApiToken) -> ApiToken:
    """Replace ``token`` by a new one (same user and name, a fresh lifetime); the old key stops
    working at once. Returns the new token with its key in ``.key``."""
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).delete()
        return user_token_create(user=token.user, name=token.name)


def user_token_revoke(*, user, token_id: int | None = None) -> int:
    """Delete one of the user's API tokens (``token_id``), or all of them; returns how many went.
    Someone else's token id deletes nothing."""
    tokens = ApiToken.objects.filter(user=user)
    if token_id is not None:
        tokens = tokens.filter(pk=token_id)
    return tokens.delete()[1].get(ApiToken._meta.label, 0)
