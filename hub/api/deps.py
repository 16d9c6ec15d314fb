"""What the routers need, injected through FastAPI dependencies; and the seam where auth plugs in."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from hub.ingest import Ingest
from hub.leader import Leadership
from hub.live import Broadcaster
from hub.metrics import Metrics
from hub.mqtt import MqttLink
from hub.settings import HubSettings


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


@dataclass(frozen=True)
class Principal:
    """Who is calling. With auth off every caller is the anonymous operator."""

    name: str
    authenticated: bool = False


def services(request: Request) -> Services:
    """The app's services."""
    found: Services = request.app.state.services
    return found


def current_principal(request: Request) -> Principal:
    """The caller. The accounts issue replaces this with token checks; routes already depend on it."""
    return Principal(name="anonymous")


def db_session(svc: Annotated[Services, Depends(services)]) -> Iterator[Session]:
    """A read session for one request."""
    with svc.sessions() as session:
        yield session


ServicesDep = Annotated[Services, Depends(services)]
SessionDep = Annotated[Session, Depends(db_session)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
