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


@router.get("/healthz", responses={503: {"description": "a component is failing: see its entry"}})
async def healthz(svc: ServicesDep, response: Response) -> dict[str, object]:
    """Each component's state; 503 when the database, the broker or ingest fails.

    Ingest fails when queued messages have waited longer than ``ingest.stuck_after_s`` for a commit:
    that is what a guard would notice (alarms not arriving), whatever the cause. Each long-lived
    task (ingest, MQTT link, forwarding, leader, snapshots) is supervised; one waiting to start
    again after a crash fails the check, and its restarts and last error are listed. With
    ``cluster.partitions``, a hub that holds nothing because another runs with another count fails it.
    """
    database = await run_in_threadpool(_database_ok, svc)
    broker = svc.link.connected.is_set()
    ingest = svc.ingest.health()
    tasks = {
        name: {"running": h.running, "restarts": h.restarts, "last_error": h.last_error}
        for name, h in svc.tasks.items()
    }
    stopped = [name for name, h in svc.tasks.items() if not h.running]
    partitions = svc.takeover.partitions if svc.takeover else None
    mismatch = partitions.mismatch if partitions else None  # another hub's partition count: this one holds none
    ok = database and broker and bool(ingest["ok"]) and not stopped and mismatch is None
    response.status_code = 200 if ok else 503
    held = (
        None
        if partitions is None
        else {"held": len(partitions.owned), "hubs": partitions.members, "mismatch": mismatch}
    )
    return {
        "partitions": held,
        "status": "ok" if ok else "degraded",
        "database": database,
        "broker": broker,
        "leader": svc.leader.is_leader,
        "ingest": ingest,
        "tasks": tasks,
        "queue_depth": ingest["queue_depth"],
        "last_commit": ingest["last_commit"],
    }


@router.get("/metrics", response_class=Response)
async def metrics(svc: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4")
