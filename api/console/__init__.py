"""The web console for a business's staff: agents, compliance officers and admins (server-rendered)."""

from __future__ import annotations

from fastapi import APIRouter

from api.console import admin, answers, compliance, inbox, oidc, session, transparency

router = APIRouter(prefix="/console", include_in_schema=False)
router.include_router(session.router)
router.include_router(oidc.router)
router.include_router(inbox.router)
router.include_router(compliance.router)
router.include_router(admin.router)
router.include_router(answers.router)
router.include_router(transparency.router)
