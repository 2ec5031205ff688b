"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.runtime import Runtime
from core.api_keys import authenticate_api_key
from core.db import session_scope
from core.errors import NotFound, Unauthenticated
from core.tenants import Business


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """The request's unit of work: committed once the route returns, rolled back if it raises."""
    with session_scope(runtime.engine) as session:
        yield session


# scope="function": the session closes when the route returns, before the response is sent, so a client
# never sees an answer whose writes could still fail or are not yet visible (the default "request" scope
# would commit only after the response went out).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# Row ids are 32-bit on PostgreSQL: a larger number names nothing, and must be a 422, not a database error.
MAX_ROW_ID = 2**31 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

# Either header works: `Authorization: Bearer wpk_...` (what most clients send) or `X-API-Key: wpk_...`.
_bearer = HTTPBearer(auto_error=False, description="A business API key (`wepos apikey create`)")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def current_business(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Business:
    """The business whose API key came with the request; 401 without a valid one."""
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise Unauthenticated("an API key is required: send `Authorization: Bearer <key>`")
    key = authenticate_api_key(session, presented)
    business = session.get(Business, key.business_id)
    if business is None:
        raise NotFound("the business of this key no longer exists")
    # The key's last use is committed now: its row lock (SQLite: the write lock) is not held through the route.
    session.commit()
    session.expunge(business)
    return business


CurrentBusiness = Annotated[Business, Depends(current_business)]
