"""Operations endpoints: health and Prometheus metrics (public, no auth)."""

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.api.deps import Services, ServicesDep

router = APIRouter(tags=["ops"])


def _database_ok(svc: Services) -> bool:
    try:
        with svc.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:  # a health probe reports, it does not raise
        return False
    return True


@router.get("/healthz")
async def healthz(svc: ServicesDep, response: Response) -> dict[str, object]:
    """Whether the database answers and the broker is connected."""
    database = await run_in_threadpool(_database_ok, svc)
    broker = svc.link.connected.is_set()
    ok = database and broker
    response.status_code = 200 if ok else 503
    return {
        "status": "ok" if ok else "degraded",
        "database": database,
        "broker": broker,
        "queue_depth": svc.ingest.queue.qsize(),
        "last_commit": svc.ingest.last_commit.isoformat() if svc.ingest.last_commit else None,
    }


@router.get("/metrics", response_class=Response)
async def metrics(svc: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4")
