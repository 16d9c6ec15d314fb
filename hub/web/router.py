"""Serves the console: its HTML shell at ``/`` and its files at ``/static/...``, from the package.

Nothing is fetched from elsewhere at run time (control rooms are often offline): the shell, the ES
modules, the stylesheet and the icon all ship as package data. The shell and the files are public;
the console asks ``/api/v1/auth/me`` who is signed in and shows its own login form when nobody is.
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
# Only our own files; images from the API (snapshots) and data: URIs for inline SVG icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SHELL_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console() -> FileResponse:
    """The console's HTML shell."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=SHELL_HEADERS)


def mount(app: FastAPI) -> None:
    """Serve the console at ``/`` and its static files at ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
