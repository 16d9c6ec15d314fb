"""The hub's app factory: ``create_app(settings)``; the lifespan runs the hub's tasks.

``build_services`` wires the pipeline through constructors: the MQTT link (the source) feeds
ingest, which commits through the store (with the forwarder's outbox) and then tells its sinks
(live streams, the forwarder, the snapshot fetcher: ``hub.sinks``). The lifespan starts the sweep
leadership, the forwarder, ingest and the link in one ``asyncio.TaskGroup`` and stops them in
reverse: the source first, the forwarder last.
"""

import asyncio
import importlib.resources
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import TaskHealth, cancel_and_wait, supervised
from contract import TopicTree
from contract.messages import utc_now
from hub import __version__
from hub.alarm_pictures import AlarmPictures
from hub.api import alarms, inventory, ops, stream
from hub.api import compliance as compliance_api
from hub.api import deadletters as deadletters_api
from hub.api import live_view as live_view_api
from hub.api import notifications as notifications_api
from hub.api import patrol_runs as patrol_runs_api
from hub.api import patrols as patrols_api
from hub.api import plans as plans_api
from hub.api import profiles as profiles_api
from hub.api import rates as rates_api
from hub.api import registry as registry_api
from hub.api import reports as reports_api
from hub.api import series as series_api
from hub.api import snapshots as snapshots_api
from hub.api.deps import Services, current_principal
from hub.auth import admin as accounts
from hub.auth import routes as auth_routes
from hub.compliance.observe import metrics_from
from hub.compliance.watch import ComplianceWatch
from hub.db.engine import make_engine, migrate, session_factory
from hub.domain.state import HubState
from hub.forwarding import api as forwarding_api
from hub.forwarding.worker import Forwarder
from hub.ingest import Ingest
from hub.leader import Leadership
from hub.live import Broadcaster
from hub.live_tail import LiveTail
from hub.live_view import LiveView
from hub.metrics import Metrics
from hub.mqtt import ClientFactory, MqttLink
from hub.notify.notifier import Notifier
from hub.partitions import Partitions
from hub.reconcile import ActiveAlarms
from hub.settings import HubSettings
from hub.sinks import Sink
from hub.snapshots import Snapshots
from hub.store import Store
from hub.takeover import Takeover
from hub.timeseries.daily import DailyRates, write_hub_lines
from hub.timeseries.embedded import EmbeddedStore, embedded_path
from hub.timeseries.sink import TimeSeriesSink
from hub.web import router as web

log = logging.getLogger(__name__)


def build_services(
    settings: HubSettings,
    now: Callable[[], datetime] = utc_now,
    client_factory: ClientFactory | None = None,
    extra_sinks: Sequence[Sink] = (),
) -> Services:
    """Create the store (migrated), the state loaded from it, and the pipeline around them
    (``extra_sinks`` after the built-in ones)."""
    engine = make_engine(settings.database.url, settings.database.echo)
    migrate(engine)
    sessions = session_factory(engine)
    live = Broadcaster()
    forwarder = Forwarder(settings.forwarding, sessions, broadcaster=live, now=now, hub_id=settings.mqtt.client_id)
    store = Store(sessions, forwarder.outbox if settings.forwarding.enabled else None)
    link = MqttLink(settings.mqtt, client_factory) if client_factory else MqttLink(settings.mqtt)
    snapshots = Snapshots(sessions, TopicTree(settings.mqtt.topic_prefix), link.publish, now=now)
    state = HubState(settings.liveness.heartbeat_misses, settings.liveness.default_snapshot_interval_s)
    for device in store.load_devices():
        state.restore_device(device)
    metrics = Metrics()
    metrics.gauges["sse_subscribers"] = lambda: float(live.subscribers)
    metrics.labelled["stale_heartbeat_lines_total"] = lambda: {"older_seq": state.stale_lines}
    leader = Leadership(engine, settings.liveness.leader_check_s)
    metrics.gauges["leader"] = lambda: float(leader.is_leader)
    active_alarms = ActiveAlarms()
    for alarm in store.load_active_alarms():
        active_alarms.note(alarm)
    timeseries = _timeseries(settings, state, metrics)
    notifier = _notifier(settings, sessions, state, now)
    if notifier is not None:
        metrics.gauges.update(notifier.gauges())
    compliance = ComplianceWatch(
        settings, sessions, metrics=metrics_from(state), is_leader=lambda: leader.is_leader, now=now
    )
    own = [sink for sink in (timeseries, notifier, compliance) if sink is not None]
    pictures = AlarmPictures(snapshots, state, sessions, live, now)
    ingest = Ingest(
        settings,
        state,
        store,
        metrics,
        sinks=(live, forwarder, snapshots, pictures, *own, *extra_sinks),
        publish=link.publish,
        on_image=snapshots.on_image,
        now=now,
        is_leader=lambda: leader.is_leader,
        active_alarms=active_alarms,
    )
    if settings.gateways.enrolment == "registered":
        ingest.registered = store.registered_gateways()
    services = Services(settings, sessions, ingest, link, live, metrics, now, leader, forwarder, snapshots, timeseries)
    services.notifier, services.compliance, services.pictures = notifier, compliance, pictures
    if settings.cluster.partitions:
        services.takeover = _partitioned(settings, engine, ingest, store, metrics)
    return services


def _partitioned(settings: HubSettings, engine: Engine, ingest: Ingest, store: Store, metrics: Metrics) -> Takeover:
    """Several hubs share out the gateways by partition (``hub.partitions``): this hub applies its own."""
    partitions = Partitions(engine, settings.cluster.partitions, settings.cluster.check_s)
    ingest.holds = partitions.owns
    store.fence = partitions.fence
    takeover = Takeover(partitions, ingest, store)
    metrics.gauges["partitions_held"] = lambda: float(len(partitions.owned))
    metrics.gauges["partition_moves"] = lambda: float(partitions.moves)
    metrics.gauges["messages_not_held"] = lambda: float(ingest.not_held)
    metrics.gauges["hubs"] = lambda: float(partitions.members)
    return takeover


def _notifier(
    settings: HubSettings, sessions: sessionmaker[Session], state: HubState, now: Callable[[], datetime]
) -> Notifier | None:
    if not settings.notifications.rules:
        return None
    names = {s.id: s.name or s.id for s in settings.schools}
    return Notifier(
        settings.notifications, sessions, tz_of=settings.school_tz, school_name=lambda s: names.get(s, s),
        describe=_describer(state), now=now,
    )  # fmt: skip


def _describer(state: HubState) -> Callable[[str, str], tuple[str, str]]:
    """(school, device) -> (kind, location), from the hub's state in memory; empty for an unknown device."""

    def describe(school_id: str, device_id: str) -> tuple[str, str]:
        device = state.devices.get((school_id, device_id))
        return (device.kind, device.location) if device else ("", "")

    return describe


def _timeseries(settings: HubSettings, state: HubState, metrics: Metrics) -> TimeSeriesSink | EmbeddedStore | None:
    if settings.timeseries.backend == "none":
        return None
    if settings.timeseries.backend == "embedded":
        store = EmbeddedStore(settings.timeseries, settings.school_tz, embedded_path(settings))
        metrics.gauges.update(store.gauges())
        return store

    sink = TimeSeriesSink(settings.timeseries, _describer(state))
    sink.request()  # a token or password file that is not there stops start-up, naming it
    metrics.gauges.update(sink.gauges())
    return sink


@dataclass(frozen=True)
class HubTasks:
    """The lifespan's supervised tasks."""

    leader: "asyncio.Task[None]"
    forwarding: "asyncio.Task[None]"
    ingest: "asyncio.Task[None]"
    mqtt: "asyncio.Task[None]"
    timeseries: "asyncio.Task[None] | None"  # it stops with the forwarder, after ingest's last commit
    daily_rates: "asyncio.Task[None] | None"  # the leader's daily_rate points, with the time series
    notifications: "asyncio.Task[None] | None"
    compliance: "asyncio.Task[None] | None"  # the leader's findings ledger
    live_tail: "asyncio.Task[None] | None"  # other hubs' changes for this hub's consoles
    partitions: "asyncio.Task[None] | None"  # the gateways this hub holds (cluster.partitions)


async def _computed_points(svc: Services, sink: TimeSeriesSink, stop: asyncio.Event) -> None:
    """The points the hub computes itself: daily rates (the leader's) and its own counters."""
    daily = DailyRates(svc.settings, svc.sessions, sink, lambda: svc.leader.is_leader, svc.now)
    every = svc.settings.timeseries.hub_every_s
    async with asyncio.TaskGroup() as group:
        group.create_task(daily.run(stop))
        group.create_task(
            write_hub_lines(svc.metrics, svc.settings.mqtt.client_id, sink=sink, now=svc.now, every_s=every, stop=stop)
        )


async def _checked_in(engine: Engine, timeout_s: float = 5.0) -> None:
    """Wait until no connection is out of the pool: a database call still running in a thread
    (its task was cancelled, not the thread) would otherwise return its connection to a pool already
    disposed, where it stays open until collected."""
    checked_out = getattr(engine.pool, "checkedout", None)
    if checked_out is None:
        return
    for _ in range(int(timeout_s / 0.05)):
        if not checked_out():
            return
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Stops:
    """When the lifespan's tasks stop: the link and sweeps first, then ingest, then what sends."""

    stop: asyncio.Event
    ingest: asyncio.Event
    forward: asyncio.Event


def live_tail_of(svc: Services) -> LiveTail | None:
    """Several hubs on one PostgreSQL share the live changes; one hub (or SQLite) needs no tail."""
    several = svc.settings.several_hubs
    return LiveTail(svc.sessions, svc.live) if several and svc.settings.database.url.startswith("postgresql") else None


Starter = Callable[[str, Callable[[], Awaitable[None]], asyncio.Event], "asyncio.Task[None]"]


def _start_tasks(svc: Services, start: Starter, stops: Stops) -> HubTasks:
    sink, notifier, compliance = svc.timeseries, svc.notifier, svc.compliance
    tail, takeover = live_tail_of(svc), svc.takeover
    return HubTasks(
        leader=start("leader", lambda: svc.leader.run(stops.stop), stops.stop),
        # the forwarder starts before ingest and stops after it: rows committed last are sent
        forwarding=start("forwarding", lambda: svc.forwarder.run(stops.forward), stops.forward),
        ingest=start("ingest", svc.ingest.run, stops.ingest),  # runs until cancelled
        mqtt=start("mqtt", lambda: svc.link.run(stops.stop, svc.ingest.feed), stops.stop),
        timeseries=start("timeseries", lambda: sink.run(stops.forward), stops.forward) if sink else None,
        daily_rates=start("daily_rates", lambda: _computed_points(svc, sink, stops.stop), stops.stop)
        if isinstance(sink, TimeSeriesSink)
        else None,
        notifications=start("notifications", lambda: notifier.run(stops.forward), stops.forward) if notifier else None,
        compliance=start("compliance", lambda: compliance.run(stops.stop), stops.stop) if compliance else None,
        live_tail=start("live_tail", lambda: tail.run(stops.stop), stops.stop) if tail else None,
        partitions=start("partitions", lambda: takeover.partitions.run(stops.stop, takeover.apply), stops.stop)
        if takeover
        else None,
    )


# What any API route may answer besides its own documented outcomes.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid session or token"},
    403: {"description": "in scope, but the caller's role may not do this (or a CSRF check failed)"},
    404: {"description": "no such resource, or one outside the caller's schools"},
}


def create_app(
    settings: HubSettings, now: Callable[[], datetime] = utc_now, client_factory: ClientFactory | None = None
) -> FastAPI:
    """The FastAPI app; its lifespan runs ingest and the MQTT link as named tasks."""
    svc = build_services(settings, now, client_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stops = Stops(asyncio.Event(), asyncio.Event(), asyncio.Event())
        stop, ingest_stop, forward_stop = stops.stop, stops.ingest, stops.forward
        sink = svc.timeseries
        await asyncio.to_thread(svc.leader.refresh)  # decided before the first sweep could run
        try:
            async with asyncio.TaskGroup() as group:

                def start(name: str, make: Callable[[], Awaitable[None]], until: asyncio.Event) -> "asyncio.Task[None]":
                    health = svc.tasks[name] = TaskHealth()
                    return group.create_task(supervised(f"hub:{name}", make, until, health), name=f"hub:{name}")

                tasks = _start_tasks(svc, start, stops)
                log.info(
                    "hub %s: broker %s, database %s",
                    __version__,
                    settings.mqtt.url,
                    settings.database.url.split("@")[-1],
                )
                try:
                    yield
                finally:
                    stop.set()
                    await asyncio.gather(
                        tasks.mqtt,
                        tasks.leader,
                        *[t for t in [tasks.daily_rates, tasks.compliance, tasks.live_tail, tasks.partitions] if t],
                        return_exceptions=True,
                    )
                    ingest_stop.set()
                    await cancel_and_wait(tasks.ingest)  # it publishes acks: one cancel can get lost there
                    await svc.ingest.close()  # a batch under way is written before the pool goes
                    await svc.snapshots.close()
                    if svc.pictures is not None:
                        await svc.pictures.close()
                    forward_stop.set()
        finally:
            if isinstance(sink, EmbeddedStore):
                sink.close()
            await _checked_in(svc.sessions.kw["bind"])
            svc.sessions.kw["bind"].dispose()

    app = FastAPI(title="CampusGuard hub", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = svc
    app.state.forwarder = svc.forwarder
    app.state.snapshots = svc.snapshots
    app.state.live_view = LiveView(svc.snapshots)
    _routes(app)
    return app


def _routes(app: FastAPI) -> None:
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(current_principal)], responses=API_ERRORS)
    for module in (inventory, alarms, snapshots_api, stream, rates_api, compliance_api, reports_api, series_api):
        api.include_router(module.router)
    api.include_router(forwarding_api.router)  # /alarms/{id}/forwarding
    api.include_router(notifications_api.router)  # /alarms/{id}/notifications
    api.include_router(accounts.router)  # users, API tokens, audit log
    api.include_router(deadletters_api.router)
    api.include_router(registry_api.router)
    api.include_router(profiles_api.router)  # /compliance/profiles
    api.include_router(live_view_api.router)  # /schools/{s}/devices/{d}/live.jpg
    api.include_router(plans_api.router)  # /alarms/{id}/plan, /response-plans
    api.include_router(patrols_api.router)  # /patrols/plans (网上巡查)
    api.include_router(patrol_runs_api.router)  # /patrols/runs, /patrols/counts
    app.include_router(api)
    app.include_router(auth_routes.router)  # login is public; logout and me check the caller
    app.include_router(ops.router)  # public: probes and scrapers carry no credentials
    web.mount(app)  # the console at / and /static (public: it signs in through the API)
    _api_docs(app)


def _api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc from the packages' own files: a control room often has
    no Internet."""
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
    redoc = importlib.resources.files("fastapi_standalone_docs") / "static" / "redoc"
    app.mount("/redoc-static", StaticFiles(directory=str(redoc)), name="redoc-static")

    @app.get("/redoc", include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="CampusGuard hub API",
            redoc_js_url="/redoc-static/redoc.standalone.js",
            redoc_favicon_url="/docs-static/favicon-32x32.png",
            with_google_fonts=False,
        )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="CampusGuard hub API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )
