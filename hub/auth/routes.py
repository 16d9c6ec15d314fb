"""Signing in and out: ``/api/v1/auth/login`` (public), ``logout``, ``me`` and ``password``.

A login sets two cookies: ``cg_session`` (HttpOnly: scripts cannot read it) and ``cg_csrf`` (readable,
so the console can echo it in ``X-CSRF-Token``); both SameSite=Strict, Path=/, and Secure over https
(``api.secure_cookies``). Each login makes a new session id; the one the browser had ends.
"""

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from hub.api.deps import Services, ServicesDep, current_principal
from hub.auth import audit, passwords, ratelimit, sessions, users
from hub.auth.csrf import cross_site
from hub.auth.models import User
from hub.auth.principal import Principal, client_ip, of_user
from hub.auth.schemas import LoginIn, LoginOut, MeOut, PasswordIn, Permissions

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
WhoDep = Annotated[Principal, Depends(current_principal)]
BAD_CREDENTIALS = "wrong username or password"


def me_of(who: Principal) -> MeOut:
    """The caller as ``/auth/me`` shows it."""
    return MeOut(
        username=who.name,
        display_name=who.display_name,
        role=who.role,
        schools=list(who.schools),
        district=who.district,
        csrf_token=who.csrf_token,
        permissions=Permissions(**who.permissions()),
        auth="on" if who.authenticated else "off",
    )


def _secure(svc: Services, request: Request) -> bool:
    setting = svc.settings.api.secure_cookies
    return request.url.scheme == "https" if setting == "auto" else setting


def _set_cookies(svc: Services, request: Request, response: Response, new: sessions.NewSession) -> None:
    secure, max_age = _secure(svc, request), int(svc.settings.api.session_max_s)
    for name, value, http_only in (
        (sessions.SESSION_COOKIE, new.cookie, True),
        (sessions.CSRF_COOKIE, new.csrf_token, False),
    ):
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=secure, httponly=http_only, samesite="strict"
        )


def _clear_cookies(svc: Services, request: Request, response: Response) -> None:
    for name, http_only in ((sessions.SESSION_COOKIE, True), (sessions.CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=_secure(svc, request), httponly=http_only, samesite="strict")


@dataclass
class _Attempt:
    status: int = 200
    retry_after: int | None = None
    user: User | None = None
    new: sessions.NewSession | None = None


_ACCOUNT_LOCKS: dict[str, threading.Lock] = {}
_ACCOUNT_LOCKS_GUARD = threading.Lock()


def _account_lock(name: str) -> threading.Lock:
    """One password check at a time per account in this process (bounded: forged names are dropped)."""
    with _ACCOUNT_LOCKS_GUARD:
        if len(_ACCOUNT_LOCKS) >= 10_000:
            _ACCOUNT_LOCKS.clear()
        return _ACCOUNT_LOCKS.setdefault(name, threading.Lock())


def _try_login(svc: Services, request: Request, body: LoginIn) -> _Attempt:
    """Check the rate limit and the password; record the outcome.

    The attempt is counted as a failure, and committed, *before* the password is hashed, and one
    account's attempts take turns: 40 parallel guesses make at most ``login_failures_per_user``
    argon2 checks, and a crash or a race in between cannot skip the count. A right password
    clears the account's failures, this one included.
    """
    api, now, ip = svc.settings.api, svc.now(), client_ip(request)
    name = users.normalize(body.username)[:64]
    limits = ratelimit.Limits(api.login_window_s, api.login_failures_per_user, api.login_failures_per_ip)
    with _account_lock(name):
        with svc.sessions.begin() as db:
            wait = ratelimit.retry_after(db, name, ip, now, limits)
            if wait is not None:  # even the right password is refused while locked
                audit.record(db, at=now, actor=name, action="login", target=name, outcome="locked", client_ip=ip)
                return _Attempt(429, retry_after=wait)
            ratelimit.record_failure(db, name, ip, now, limits)
            user = users.get(db, name)
            stored = user.password_hash if user is not None and not user.disabled else None
        if not passwords.verify_password(stored, body.password):
            with svc.sessions.begin() as db:
                user = users.get(db, name)
                reason = "unknown user" if user is None else ("disabled" if user.disabled else "wrong password")
                audit.record(
                    db, at=now, actor=name, action="login", target=name, outcome="failed", client_ip=ip, reason=reason
                )
            return _Attempt(401)
        with svc.sessions.begin() as db:
            user = users.get(db, name)
            if user is None or user.disabled:  # changed while the password was checked
                return _Attempt(401)
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(body.password)
            ratelimit.clear_user(db, name)
            sessions.prune(db, now, idle_s=api.session_idle_s)
            replaces = request.cookies.get(sessions.SESSION_COOKIE)
            new = sessions.start(db, user, now, max_s=api.session_max_s, client_ip=ip, replaces=replaces)
            audit.record(db, at=now, actor=name, action="login", target=name, client_ip=ip)
            return _Attempt(user=user, new=new)


@router.post("/login", responses={401: {}, 403: {}, 429: {}})
def login(body: LoginIn, request: Request, response: Response, svc: ServicesDep) -> LoginOut:
    """Sign in with a username and password; sets the session and CSRF cookies."""
    if svc.settings.api.auth == "off":
        raise HTTPException(404, "accounts are off on this hub (api.auth: off)")
    if cross_site(request):
        raise HTTPException(403, "cross-site login refused")
    attempt = _try_login(svc, request, body)
    if attempt.status == 429:
        headers = {"Retry-After": str(attempt.retry_after)}
        raise HTTPException(429, "too many failed logins; try again later", headers=headers)
    if attempt.user is None or attempt.new is None:
        raise HTTPException(401, BAD_CREDENTIALS)
    _set_cookies(svc, request, response, attempt.new)
    who = of_user(attempt.user, svc.settings, "session", request, attempt.new.csrf_token)
    return LoginOut(user=me_of(who), csrf_token=attempt.new.csrf_token)


@router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, who: WhoDep, svc: ServicesDep) -> Response:
    """End this session and clear its cookies (a token caller has no session: nothing happens)."""
    response = Response(status_code=204)
    if who.via != "session":
        return response
    cookie = request.cookies.get(sessions.SESSION_COOKIE, "")
    with svc.sessions.begin() as db:
        sessions.end(db, cookie)
        audit.record(db, at=svc.now(), actor=who.name, action="logout", target=who.name, client_ip=who.client_ip)
    _clear_cookies(svc, request, response)
    return response


@router.get("/me", responses={401: {}})
def me(who: WhoDep) -> MeOut:
    """The signed-in caller, their CSRF token and what they may do."""
    return me_of(who)


@router.post("/password", status_code=204, response_class=Response, responses={401: {}, 403: {}, 422: {}})
def change_password(body: PasswordIn, request: Request, who: WhoDep, svc: ServicesDep) -> Response:
    """Change one's own password (the current one is required); every session ends, this one renewed."""
    if not who.authenticated:
        raise HTTPException(404, "accounts are off on this hub (api.auth: off)")
    now, response = svc.now(), Response(status_code=204)
    with svc.sessions.begin() as db:
        user = users.require(db, who.name)
        if not passwords.verify_password(user.password_hash, body.current_password):
            raise HTTPException(403, "the current password is wrong")
        try:
            users.set_password(db, user, body.new_password, now)
        except users.AccountError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        audit.record(db, at=now, actor=who.name, action="user.password", target=who.name, client_ip=who.client_ip)
        if who.via == "session":
            api = svc.settings.api
            new = sessions.start(db, user, now, max_s=api.session_max_s, client_ip=who.client_ip, replaces=None)
            _set_cookies(svc, request, response, new)
    return response
