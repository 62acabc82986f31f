"""Auth endpoints: tokens for scripts (make, list, rotate, revoke), session login/logout + CSRF cookie
for the SPA, and ``/me``."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import roles
from labeling.api.errors import BadRequest, DetailOutput
from labeling.models import ApiToken
from labeling.api.throttling import AuthAttemptThrottle
from labeling.selectors.campaigns import campaigns_available_to_labeler
from labeling.selectors.users import user_has_role, user_label_counts, user_roles, user_tokens
from labeling.services.users import user_token_create, user_token_revoke, user_token_rotate


class CredentialsInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ALL_ROLES))
    is_staff = serializers.BooleanField()


def _user_data(user) -> dict:
    return {"id": user.pk, "username": user.get_username(), "roles": user_roles(user), "is_staff": user.is_staff}


def _authenticate(request):
    data = CredentialsInput(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request._request, **data.validated_data)
    if user is None:  # wrong password, unknown user and inactive user look the same on purpose
        raise BadRequest("invalid username or password")
    return user


class TokenRequestInput(CredentialsInput):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                 help_text="what the token is for, shown in the token list")


class NewTokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="the key: shown this once, only its hash is stored")
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class TokenOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="the token this request was made with")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "current"]

    def get_current(self, token) -> bool:
        auth = self.context["request"].auth
        return isinstance(auth, ApiToken) and auth.pk == token.pk


def _new_token_data(token: ApiToken) -> dict:
    return {"token": token.key, "id": token.pk, "expires_at": token.expires_at}


class TokenApi(APIView):
    """Exchange a username + password for a new API token (scripts, the load benchmark). It expires
    after ``API_TOKEN_LIFETIME_DAYS`` and with a password change."""

    authentication_classes = []  # credentials are in the body; no cookie, so no CSRF either
    permission_classes = [AllowAny]
    throttle_classes = [AuthAttemptThrottle]  # slows password guessing, per client IP

    @extend_schema(request=TokenRequestInput, responses={200: NewTokenOutput}, tags=["auth"])  # 400: labeling.api.schema
    def post(self, request):
        user = _authenticate(request)
        name = TokenRequestInput(data=request.data)
        name.is_valid(raise_exception=True)
        token = user_token_create(user=user, name=name.validated_data.get("name", ""))
        return Response(NewTokenOutput(_new_token_data(token)).data)


class TokenListApi(APIView):
    """My live API tokens, newest first (never their keys)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TokenOutput(many=True)}, tags=["auth"], operation_id="auth_tokens_list")
    def get(self, request):
        return Response(TokenOutput(user_tokens(user=request.user), many=True, context={"request": request}).data)


class TokenRevokeApi(APIView):
    """Revoke one of my API tokens (404 for anyone else's)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: DetailOutput}, tags=["auth"])
    def delete(self, request, token_id: int):
        if not user_token_revoke(user=request.user, token_id=token_id):
            raise NotFound("no such token")
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRotateApi(APIView):
    """Swap the token this request is made with for a new one (a fresh lifetime); the old key stops
    working at once. Needs token authentication (a session has no token to rotate: 400)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: NewTokenOutput, 400: DetailOutput}, tags=["auth"])
    def post(self, request):
        if not isinstance(request.auth, ApiToken):
            raise BadRequest("rotate the token you authenticate with: send Authorization: Token <key>")
        return Response(NewTokenOutput(_new_token_data(user_token_rotate(token=request.auth))).data)


class LoginApi(APIView):
    """Session login for the browser. CSRF is checked even though nobody is logged in yet
    (login CSRF): get the cookie from ``GET /auth/csrf`` first."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthAttemptThrottle]

    @extend_schema(
        request=CredentialsInput,
        responses={200: inline_serializer("LoginOutput", {"user": UserOutput()})},
        tags=["auth"],
    )
    def post(self, request):
        SessionAuthentication().enforce_csrf(request)
        user = _authenticate(request)
        login(request._request, user)
        return Response({"user": _user_data(user)})


class LogoutApi(APIView):
    """End the session; when called with a token, that token is revoked (the user's others stay)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            user_token_revoke(user=request.user, token_id=request.auth.pk)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CsrfApi(APIView):
    """Sets the ``csrftoken`` cookie and returns its value (send it back as ``X-CSRFToken``)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("CsrfOutput", {"csrfToken": serializers.CharField()})}, tags=["auth"])
    def get(self, request):
        return Response({"csrfToken": get_token(request._request)})


class MeOutput(UserOutput):
    counts = inline_serializer(
        "MeCounts", {k: serializers.IntegerField() for k in ("today", "total", "demonstrations", "rankings", "skipped")}
    )
    campaigns = inline_serializer(
        "MeCampaign",
        {
            "id": serializers.IntegerField(),
            "name": serializers.CharField(),
            "status": serializers.CharField(),
            "open_tasks": serializers.IntegerField(),
        },
        many=True,
    )


class MeApi(APIView):
    """Who am I: roles, my label counts, the active campaigns I can still work on."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeOutput}, tags=["auth"])
    def get(self, request):
        user = request.user
        campaigns = campaigns_available_to_labeler(labeler=user) if user_has_role(user, roles.LABELER) else []
        data = {**_user_data(user), "counts": user_label_counts(user=user), "campaigns": campaigns}
        return Response(MeOutput(data).data)
