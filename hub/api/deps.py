"""What the routers need, injected through FastAPI dependencies, and who is calling (``hub.auth``)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import TaskHealth
from hub.alarm_pictures import AlarmPictures
from hub.auth.principal import CsrfRejected, NotAuthenticated, Principal, authenticate
from hub.compliance.watch import ComplianceWatch
from hub.db.models import Alarm
from hub.forwarding.worker import Forwarder
from hub.ingest import Ingest
from hub.leader import Leadership
from hub.live import Broadcaster
from hub.metrics import Metrics
from hub.mqtt import MqttLink
from hub.notify.notifier import Notifier
from hub.settings import HubSettings
from hub.snapshots import Snapshots
from hub.takeover import Takeover
from hub.timeseries.embedded import EmbeddedStore
from hub.timeseries.sink import TimeSeriesSink


@dataclass
class Services:
    """The hub's collaborators, built by the app factory."""

    settings: HubSettings
    sessions: sessionmaker[Session]
    ingest: Ingest
    link: MqttLink
    live: Broadcaster
    metrics: Metrics
    now: Callable[[], datetime]
    leader: Leadership
    forwarder: Forwarder
    snapshots: Snapshots
    timeseries: TimeSeriesSink | EmbeddedStore | None = None  # None: no time series configured
    tasks: dict[str, TaskHealth] = field(default_factory=dict)
    notifier: Notifier | None = None  # None: no notification rules  # the lifespan's supervised tasks
    compliance: "ComplianceWatch | None" = None  # the findings ledger's keeper
    pictures: "AlarmPictures | None" = None  # pictures captured beside security alarms
    takeover: Takeover | None = None  # the gateway partitions this hub holds (cluster.partitions)


def services(request: Request) -> Services:
    """The app's services."""
    found: Services = request.app.state.services
    return found


def current_principal(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    """The caller, from an API token or a session cookie (with its CSRF token on state changes).

    401 without valid credentials; 403 when a cookie-authenticated state change lacks the CSRF token.
    With ``api.auth: off`` every caller is the anonymous operator.
    """
    try:
        with svc.sessions.begin() as session:
            return authenticate(request, session, svc.settings, svc.now())
    except NotAuthenticated as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    except CsrfRejected as exc:
        raise HTTPException(403, str(exc)) from None


def in_scope(who: Principal, school_id: str, what: str) -> None:
    """404 when the school is outside the caller's scope: its resources are not revealed."""
    if not who.scope.allows(school_id):
        raise HTTPException(404, f"no {what}")


def scope_school(scope: str) -> str | None:
    """The school of a ``school:ID`` scope (plans, patrols), for the audit log; None for a district's
    or the hub's."""
    return scope.removeprefix("school:") if scope.startswith("school:") else None


def visible_alarm(session: Session, who: Principal, alarm_id: str) -> Alarm:
    """The alarm, or 404 when it does not exist or belongs to a school outside the caller's scope."""
    alarm = session.get(Alarm, alarm_id)
    if alarm is None or not who.scope.allows(alarm.school_id):
        raise HTTPException(404, f"no alarm {alarm_id!r}")
    return alarm


def db_session(svc: Annotated[Services, Depends(services)]) -> Iterator[Session]:
    """A read session for one request."""
    with svc.sessions() as session:
        yield session


ServicesDep = Annotated[Services, Depends(services)]
SessionDep = Annotated[Session, Depends(db_session)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
