"""Gateway partitions held through PostgreSQL advisory locks (hub.partitions), on a real PostgreSQL.

The clock the hand-over waits on is the test's, so each step is exact: no partition is ever applied
by two hubs at once, every partition is held once the hubs settle, and a hub that dies, joins, or
loses its lock connection moves partitions without a gap longer than two checks.
"""

import time
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from contract import Birth, DeviceInfo, Event, MessageType, TopicTree, encode
from contract.messages import new_event_id
from hub.batch import Batch
from hub.db.engine import migrate, session_factory
from hub.domain.state import Change
from hub.partitions import Moves, Partitions, partition_of
from hub.settings import HubSettings
from hub.store import Store
from tests.hub.conftest import Postgres
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.hub.test_fuzz import ingest as fuzz_ingest
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration
COUNT = 16


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def step(hubs: list[Partitions], clock: Clock) -> list[Moves]:
    """One check of every hub, then the clock moves on by a check; gained partitions are adopted at once."""
    moves = []
    for hub in hubs:
        move = hub.refresh(clock)
        hub.adopt(move.gained)
        moves.append(move)
        owners = [p for h in hubs for p in h.owned]
        assert len(owners) == len(set(owners)), "a partition applied by two hubs"
    clock.t += 1.0
    return moves


def settle(hubs: list[Partitions], clock: Clock, steps: int = 4) -> None:
    for _ in range(steps):
        step(hubs, clock)


def engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url, poolclass=NullPool)


def test_the_partition_of_a_gateway_is_stable_and_spread() -> None:
    assert partition_of("school-a", "gw-01", 64) == partition_of("school-a", "gw-01", 64)
    spread = {partition_of(f"sch-{i:04d}", "gw-01", 16) for i in range(200)}
    assert spread == set(range(16))


def test_three_hubs_share_every_partition_once_and_take_a_dead_one_s(postgres: Postgres) -> None:
    url, clock = postgres.create_database(), Clock()
    hubs = [Partitions(engine(url), COUNT, 1.0) for _ in range(3)]
    settle(hubs, clock)
    assert sorted(p for h in hubs for p in h.owned) == list(range(COUNT))
    assert all(h.members == 3 for h in hubs)
    assert max(len(h.owned) for h in hubs) <= 6  # ceil(16 / 3)

    dead = hubs.pop(0)
    dead.release()  # a SIGKILL closes the socket the same way: PostgreSQL frees its locks
    step(hubs, clock)  # the survivors see two members and take the freed partitions ...
    assert sorted(p for h in hubs for p in h.owned) != list(range(COUNT))  # ... not applied before a check
    step(hubs, clock)
    assert sorted(p for h in hubs for p in h.owned) == list(range(COUNT))
    assert all(h.members == 2 for h in hubs)


def test_a_joining_hub_gets_its_share_without_two_hubs_applying_one_partition(postgres: Postgres) -> None:
    url, clock = postgres.create_database(), Clock()
    hubs = [Partitions(engine(url), COUNT, 1.0)]
    settle(hubs, clock)
    assert len(hubs[0].owned) == COUNT
    hubs.append(Partitions(engine(url), COUNT, 1.0))
    settle(hubs, clock, 6)  # step() asserts at every check that no partition has two owners
    assert sorted(len(h.owned) for h in hubs) == [8, 8]
    assert sorted(p for h in hubs for p in h.owned) == list(range(COUNT))


def test_a_hub_whose_lock_connection_is_cut_stops_applying_and_the_others_wait_a_check(postgres: Postgres) -> None:
    url, clock = postgres.create_database(), Clock()
    hubs = [Partitions(engine(url), COUNT, 1.0) for _ in range(2)]
    settle(hubs, clock)
    victim = hubs[0]
    assert victim.owned
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:  # as a proxy or an idle timeout would
        pid = victim._conn.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[union-attr]
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    other = hubs[1].refresh(clock)  # the other takes the freed locks, but does not apply them yet
    assert not other.gained and len(hubs[1].owned) == 8
    lost = victim.refresh(clock)  # the victim's next check finds its connection gone
    assert len(lost.lost) == 8 and not victim.owned
    clock.t += 1.0
    settle(hubs, clock)
    assert sorted(p for h in hubs for p in h.owned) == list(range(COUNT))


def test_partitions_need_postgresql_and_no_share_group() -> None:
    with pytest.raises(ValueError, match=r"cluster\.partitions: needs a PostgreSQL database"):
        HubSettings.model_validate({"cluster": {"partitions": 8}})
    pg = {"url": "postgresql+psycopg://u@127.0.0.1/db"}
    with pytest.raises(ValueError, match=r"cluster\.partitions: not with mqtt\.share_group"):
        HubSettings.model_validate({"cluster": {"partitions": 8}, "database": pg, "mqtt": {"share_group": "hubs"}})
    assert HubSettings.model_validate({"cluster": {"partitions": 8}, "database": pg}).several_hubs


def test_a_hub_with_another_partition_count_holds_nothing_until_every_hub_agrees(postgres: Postgres) -> None:
    url, clock = postgres.create_database(), Clock()
    first, other = Partitions(engine(url), COUNT, 1.0), Partitions(engine(url), COUNT // 2, 1.0)
    settle([first], clock)
    for _ in range(3):  # its 8 partitions would hash gateways differently: both would apply some
        other.refresh(clock)
        clock.t += 1.0
    assert other.mismatch == COUNT and not other.owned
    assert len(first.owned) == COUNT and first.mismatch is None
    first.release()
    settle([other], clock)
    assert other.mismatch is None and len(other.owned) == COUNT // 2


def test_a_frozen_hub_loses_its_partitions_when_its_idle_session_ends(postgres: Postgres) -> None:
    url, clock = postgres.create_database(), Clock()
    frozen, alive = Partitions(engine(url), COUNT, 1.0, idle_timeout_s=1.0), Partitions(engine(url), COUNT, 1.0)
    settle([frozen, alive], clock)
    assert len(frozen.owned) == len(alive.owned) == COUNT // 2
    time.sleep(2.0)  # frozen makes no check: PostgreSQL ends its session, and its locks go with it
    settle([alive], clock)
    assert len(alive.owned) == COUNT and alive.members == 1
    assert not frozen.refresh(clock).gained and not frozen.owned  # thawed, it finds its session gone


async def test_a_hub_whose_partition_count_differs_from_a_running_hub_s_says_so_in_healthz(
    postgres: Postgres, mosquitto: Mosquitto
) -> None:
    url = postgres.create_database()
    running = Partitions(engine(url), COUNT, 1.0)  # a hub already running with 16
    running.refresh()
    settings = hub_settings(mosquitto.url, url, unique_prefix(), cluster={"partitions": COUNT // 2, "check_s": 0.2})
    async with running_hub(settings) as hub:

        async def degraded() -> dict[str, object] | None:
            answer = await hub.http.get("/healthz")
            return answer.json() if answer.status_code == 503 else None

        health = await eventually(degraded, 10)
        assert health["partitions"] == {"held": 0, "hubs": 2, "mismatch": COUNT}
        running.release()

        async def healthy() -> dict[str, object] | None:
            """Holding them all: a check after taking them, and a check that still counted the released
            hub takes only its half first."""
            answer = await hub.http.get("/healthz")
            held = answer.json()["partitions"]["held"] if answer.status_code == 200 else 0
            return answer.json() if held == COUNT // 2 else None

        health = await eventually(healthy, 10)
        assert health["partitions"] == {"held": COUNT // 2, "hubs": 1, "mismatch": None}


def test_a_batch_applied_before_the_hub_lost_its_partition_is_not_written_over_the_taker_s(postgres: Postgres) -> None:
    """The window the waits leave: a hub stalled long enough for its lock connection to end still has
    a batch to commit. The fence reads the locks in the writing transaction and leaves that gateway
    out; its alarm, not acked, comes again to the new holder."""
    url, clock = postgres.create_database(), Clock()
    db = engine(url)
    migrate(db)
    stalled = Partitions(db, COUNT, 1.0)
    settle([stalled], clock)
    store = Store(session_factory(db))
    store.fence = stalled.fence
    now = datetime.now(UTC)
    info = DeviceInfo(id="panic-1", kind="panic_button", profile="panic/x", interval_s=1)
    store.write(Batch(inventory=[("sch-a", "gw-01", info)], agent_versions={("sch-a", "gw-01"): "1"}), now)

    def batch(availability: str) -> Batch:
        change = Change("sch-a", "gw-01", "panic-1", availability, None, now, "unknown")
        event = Event(
            event_id=new_event_id(), seq=1, device_id="panic-1", ts=now, type="alarm.raised", alarm_type="panic",
            severity="critical", latched=True,
        )  # fmt: skip
        return Batch(changes=[change], events={event.event_id: ("sch-a", "gw-01", event)})

    written = store.write(batch("online"), now)
    assert written.acks[("sch-a", "gw-01")] and written.stored == 1
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (stalled.pid,))  # as its idle timeout would
        late = store.write(batch("offline"), now)  # the stalled hub's next commit, before its next check
        assert not late.acks and late.stored == 0 and not late.changes
        [(availability,)] = admin.execute("SELECT availability FROM devices WHERE id = 'panic-1'").fetchall()
        assert availability == "online"  # not overwritten
        assert admin.execute("SELECT count(*) FROM alarms").fetchone() == (1,)


def test_another_hub_s_gateway_is_dropped_by_its_topic_before_decoding_and_births_are_noted_by_all() -> None:
    """Every hub receives every gateway: a message of one it does not hold must cost a topic parse,
    not a decode. Even a payload that breaks the contract is left to its holder (one dead letter, there)."""
    hub = fuzz_ingest()
    hub.holds = lambda school, gateway: school == "sch-mine"
    tree = TopicTree(hub.settings.mqtt.topic_prefix)
    for kind in (MessageType.STATUS, MessageType.EVENT, MessageType.PRESENCE):
        assert hub.parse(tree.topic("sch-other", "gw-01", kind), b"\x00 not json") is None
    assert hub.not_held == 3 and not hub.rejects.by_reason and not hub.dead_letters.take()
    assert hub.parse(tree.topic("sch-mine", "gw-01", MessageType.STATUS), b"\x00 not json") is None
    assert hub.rejects.by_reason  # its own gateway's garbage is a reject and a dead letter here
    birth = Birth(
        ts=datetime.now(UTC), seq=0, devices=[DeviceInfo(id="cam-1", kind="camera", profile="c", interval_s=1)]
    )
    item = hub.parse(tree.topic("sch-other", "gw-01", MessageType.BIRTH), encode(birth))
    assert item is not None  # births reach every hub: the API looks a device up wherever it is asked
