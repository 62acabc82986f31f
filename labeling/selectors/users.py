"""Who the user is: roles and their labeling counts."""

from datetime import datetime, time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.utils import timezone

from labeling import roles as role_names
from labeling.models import ApiToken, Assignment, Task
from labeling.rawsql import RowShape, fetch_rows

_CACHE_ATTR = "_prefloop_roles"


def user_roles(user) -> list[str]:
    """The user's role names (subset of ``labeling.roles.ALL_ROLES``), one query, cached on the
    instance for the rest of the request (permission checks call this several times)."""
    if not user or not user.is_authenticated:
        return []
    cached = user.__dict__.get(_CACHE_ATTR)
    if cached is None:
        names = set(user.groups.filter(name__in=role_names.ALL_ROLES).values_list("name", flat=True))
        cached = [r for r in role_names.ALL_ROLES if r in names]
        user.__dict__[_CACHE_ATTR] = cached
    return cached


def _token_sql() -> tuple[str, RowShape, RowShape]:
    User = get_user_model()
    token, user = RowShape(ApiToken, "t"), RowShape(User, "u")
    m2m = User._meta.get_field("groups")
    through = m2m.remote_field.through._meta.db_table
    # One row per role group the user is in (or one row with NULL): the roles ride along with the
    # token lookup instead of costing a second query on every request.
    sql = (
        f'SELECT {token.sql}, {user.sql}, g."name" FROM "{ApiToken._meta.db_table}" t'
        f' JOIN "{User._meta.db_table}" u ON u."{User._meta.pk.column}" = t."user_id"'
        f' LEFT JOIN ("{through}" ug JOIN "{Group._meta.db_table}" g'
        f' ON g."id" = ug."{m2m.m2m_reverse_name()}" AND g."name" IN ({", ".join(["%s"] * len(role_names.ALL_ROLES))}))'
        f' ON ug."{m2m.m2m_column_name()}" = u."{User._meta.pk.column}"'
        ' WHERE t."key_hash" = %s'
    )
    return sql, token, user


_TOKEN_SQL = None


def token_with_user_and_roles(*, key_hash: str):
    """``(token, user)`` for an API token's key hash, or ``None`` if no such token: one query, with
    the user's role names preloaded so ``user_roles``/``user_has_role`` run no query for this
    request. ``token.user`` is the same ``user`` object. The caller checks ``user.is_active``, the
    expiry and the password fingerprint."""
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        _TOKEN_SQL = _token_sql()
    sql, token_shape, user_shape = _TOKEN_SQL
    rows = fetch_rows(sql, [*role_names.ALL_ROLES, key_hash])
    if not rows:
        return None
    token = token_shape.load(rows[0])
    user = user_shape.load(rows[0], token_shape.width)
    token.user = user
    names = {row[-1] for row in rows}
    user.__dict__[_CACHE_ATTR] = [r for r in role_names.ALL_ROLES if r in names]
    return token, user


def user_tokens(*, user):
    """The user's API tokens that have not expired, newest first (never their keys: only hashes are stored)."""
    return ApiToken.objects.filter(user=user, expires_at__gt=timezone.now()).order_by("-created_at", "-id")


def user_has_role(user, *roles: str) -> bool:
    """Staff pass every role check; others need one of ``roles``."""
    if not user or not user.is_authenticated:
        return False
    return bool(user.is_staff or set(roles) & set(user_roles(user)))


def user_label_counts(*, user, now: datetime | None = None) -> dict[str, int]:
    """``{today, total, demonstrations, rankings, skipped}`` in one query; "today" starts at local
    midnight (settings.TIME_ZONE)."""
    now = now or timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localtime(now).date(), time.min))
    submitted = Q(status=Assignment.Status.SUBMITTED)
    return Assignment.objects.filter(labeler=user).aggregate(
        today=Count("id", filter=submitted & Q(submitted_at__gte=midnight)),
        total=Count("id", filter=submitted),
        demonstrations=Count("id", filter=submitted & Q(task__kind=Task.Kind.DEMONSTRATION)),
        rankings=Count("id", filter=submitted & Q(task__kind=Task.Kind.RANKING)),
        skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
    )
