"""Who is calling: a request's credentials (Bearer token or session cookie) turned into a Principal."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session
from starlette.requests import Request

from hub.auth import csrf, sessions, tokens
from hub.auth.models import User
from hub.auth.roles import EVERYWHERE, Scope, can_handle_alarm, can_handle_any_alarm, can_manage_users, scope_of
from hub.settings import HubSettings

Via = Literal["off", "session", "token"]


@dataclass(frozen=True)
class Principal:
    """The caller: an account (by session or token), or with auth off the anonymous operator."""

    name: str
    authenticated: bool = False
    role: str = "district_admin"
    scope: Scope = EVERYWHERE
    via: Via = "off"
    user_id: int | None = None
    display_name: str = ""
    schools: tuple[str, ...] = ()
    district: str | None = None
    csrf_token: str | None = None
    client_ip: str | None = field(default=None, compare=False)

    def can_handle(self, kind: str) -> bool:
        """Whether this caller may acknowledge and resolve an alarm of this kind."""
        return can_handle_alarm(self.role, kind)

    def permissions(self) -> dict[str, bool]:
        """What the console may offer this caller."""
        handle = can_handle_any_alarm(self.role)
        return {
            "acknowledge": handle,
            "resolve": handle,
            "manage_users": can_manage_users(self.role),
            "read_dead_letters": self.role in DEAD_LETTER_READERS,
        }


# Raw payloads are for the people who fix gateways, not for guards or viewers.
DEAD_LETTER_READERS = frozenset({"it_staff", "school_admin", "district_admin"})


class NotAuthenticated(Exception):
    """No valid session or token (401)."""


class CsrfRejected(Exception):
    """A cookie-authenticated state change without the session's CSRF token (403)."""


def directory(settings: HubSettings) -> dict[str, str | None]:
    """School id to district id, from ``hub.yaml``'s ``schools``."""
    return {s.id: s.district for s in settings.schools}


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn substitutes X-Forwarded-For only from its trusted proxies)."""
    return request.client.host if request.client else "unknown"


def of_user(user: User, settings: HubSettings, via: Via, request: Request, csrf_token: str | None = None) -> Principal:
    """The principal of an authenticated account."""
    return Principal(
        name=user.username,
        authenticated=True,
        role=user.role,
        scope=scope_of(user.schools, user.district, directory(settings)),
        via=via,
        user_id=user.id,
        display_name=user.display_name,
        schools=tuple(user.schools),
        district=user.district,
        csrf_token=csrf_token,
        client_ip=client_ip(request),
    )


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(request: Request, db: Session, settings: HubSettings, now: datetime) -> Principal:
    """The caller of a request; NotAuthenticated or CsrfRejected. The caller commits (last-use times)."""
    if settings.api.auth == "off":
        return Principal(name="anonymous", client_ip=client_ip(request))
    token = bearer(request)
    if token is not None:  # a token wins over a cookie: an integration may run inside a browser session
        found = tokens.find(db, token, now)
        if found is None:
            raise NotAuthenticated("invalid or revoked API token")
        return of_user(found[1], settings, "token", request)
    cookie = request.cookies.get(sessions.SESSION_COOKIE)
    live = sessions.find(db, cookie, now, idle_s=settings.api.session_idle_s) if cookie else None
    if live is None:
        raise NotAuthenticated("not signed in")
    session, user = live
    if request.method not in csrf.SAFE_METHODS and not csrf.token_matches(
        session.csrf_token, request.headers.get(csrf.CSRF_HEADER)
    ):
        raise CsrfRejected(csrf.WRONG)
    return of_user(user, settings, "session", request, session.csrf_token)
