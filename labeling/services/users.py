"""Users and their roles (Django groups named in ``labeling.roles``)."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from labeling import roles as role_names


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


def user_token_get_or_create(*, user) -> str:
    """The user's API token key (created on first use). Precondition: an active user."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def user_token_revoke(*, user) -> None:
    """Delete the user's API token (a new one is made at the next ``POST /auth/token``)."""
    Token.objects.filter(user=user).delete()
