"""The business's approved WhatsApp message templates over HTTP. API key, own business only."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentBusiness, RuntimeDep
from bot.desk.templates import TemplatePublic, template_public

router = APIRouter(prefix="/v1", tags=["templates"])


@router.get("/templates", response_model=list[TemplatePublic])
def templates(runtime: RuntimeDep, business: CurrentBusiness, refresh: bool = False) -> list[TemplatePublic]:
    """The approved templates of the business's WhatsApp Business Account (kept a few minutes; `refresh`
    reads them again): name, language, body, its variables, and whether it can be sent from Wepos. 400
    without a WhatsApp Business Account id or access token; 502 when the Graph API fails or times out."""
    return [template_public(t) for t in runtime.templates.approved(business, refresh=refresh)]
