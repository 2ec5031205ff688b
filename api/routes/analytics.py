"""De-identified analytics over HTTP: counts and rates of the business's conversations, small counts
suppressed. API key, own business only."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentBusiness, RuntimeDep
from compliance.analytics import Analytics, business_analytics
from core.db import session_scope

router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get("/analytics", response_model=Analytics)
async def analytics(
    runtime: RuntimeDep,
    business: CurrentBusiness,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Analytics:
    """Conversations, messages, bot answers vs handoffs, reply time, escalation reasons, top documents and
    unanswered-question clusters from `since` to `until` (ISO 8601); any count below k is "<k"."""
    assert business.id is not None
    business_id = business.id

    def read() -> Analytics:
        with session_scope(runtime.engine) as session:
            return business_analytics(
                session, business_id=business_id, k=runtime.settings.analytics_k, since=since, until=until
            )

    return await run_in_threadpool(read)
