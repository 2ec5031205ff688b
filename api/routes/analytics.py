"""De-identified analytics over HTTP: counts and rates of the business's conversations, small counts
suppressed. API key, own business only."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from api.deps import CurrentBusiness, RuntimeDep, SessionDep
from compliance.analytics import Analytics, business_analytics

router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get("/analytics", response_model=Analytics)
def analytics(
    runtime: RuntimeDep,
    session: SessionDep,
    business: CurrentBusiness,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Analytics:
    """Conversations, messages, bot answers vs handoffs, reply time, escalation reasons, top documents and
    unanswered-question clusters from `since` to `until` (ISO 8601); any count below k is "<k"."""
    assert business.id is not None
    return business_analytics(
        session, business_id=business.id, k=runtime.settings.analytics_k, since=since, until=until
    )
