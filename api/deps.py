"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.runtime import Runtime
from core.api_keys import authenticate_api_key
from core.db import session_scope
from core.errors import NotFound, Unauthenticated
from core.tenants import Business


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# Row ids are 32-bit on PostgreSQL: a larger number names nothing, and must be a 422, not a database error.
MAX_ROW_ID = 2**31 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

# Either header works: `Authorization: Bearer wpk_...` (what most clients send) or `X-API-Key: wpk_...`.
_bearer = HTTPBearer(auto_error=False, description="A business API key (`wepos apikey create`)")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def current_business(
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Business:
    """The business whose API key came with the request; 401 without a valid one."""
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise Unauthenticated("an API key is required: send `Authorization: Bearer <key>`")

    def lookup() -> Business:
        with session_scope(runtime.engine) as session:
            key = authenticate_api_key(session, presented)
            business = session.get(Business, key.business_id)
            if business is None:
                raise NotFound("the business of this key no longer exists")
            session.expunge(business)
            return business

    return await run_in_threadpool(lookup)


CurrentBusiness = Annotated[Business, Depends(current_business)]
