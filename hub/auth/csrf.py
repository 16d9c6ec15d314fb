"""CSRF defences: a per-session token sent back in a header (compared in constant time), and an
Origin check on login, where no session exists yet.

The token lives in the session row and in a readable ``cg_csrf`` cookie; a foreign site can make the
browser send cookies but cannot read them, so it cannot put the token in ``X-CSRF-Token``.
"""

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRONG = "CSRF token missing or wrong"


def token_matches(expected: str, given: str | None) -> bool:
    """Whether the header carries the session's token (constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def cross_site(request: Request) -> bool:
    """Whether the browser says the request comes from another site (Origin, or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser, or a same-origin GET: nothing to compare
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.netloc.lower() != host.lower() or parts.scheme not in ("http", "https")
