"""Rendering console pages: one Jinja2 environment (autoescaped), shared context, and the error page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from core.errors import WeposError

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    staff = getattr(request.state, "staff", None)
    return TEMPLATES.TemplateResponse(
        request, f"console/{name}", {"staff": staff, **(context or {})}, status_code=status
    )


def back_to(url: str) -> RedirectResponse:
    """After a form: see the result with a GET (so reloading the page does not post again)."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, exc: WeposError, status: int | None = None) -> HTMLResponse:
    code = status or exc.status_code
    return render(request, "error.html", {"status": code, "message": exc.message}, code)
