"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import RuntimeDep
from core.metrics import QUEUE_DEPTH

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Prometheus text format; queue depths are read from the database at scrape time."""
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT direction, count(*) FROM message "
                "WHERE status IN ('received', 'processing', 'queued', 'sending') GROUP BY direction"
            )
        ).all()
    counts = {direction: count for direction, count in rows}
    QUEUE_DEPTH.labels("inbound").set(counts.get("in", 0))
    QUEUE_DEPTH.labels("outbound").set(counts.get("out", 0))
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    checks = {"database": False, "vector_store": runtime.index.heartbeat()}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    # An API process without the worker thread loads no models: it only verifies and stores webhooks.
    needs_models = request.app.state.run_worker
    checks["models"] = not needs_models or ("masker" in runtime.__dict__ and "embeddings" in runtime.__dict__)
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )
