"""A month of history for a district, written straight into a hub's database.

For the example report in ``docs/examples/`` and the report's tests: a month of device states,
alarms and police forwarding takes a month to live through, so this writes what a hub would have
stored. Seeded, so the same arguments give the same rows. Nothing here is used by a running hub.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hub.db.models import Alarm, Device, Gateway, School, Transition
from hub.forwarding.models import Attempt, OutboxRow


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    kind: str  # one_click_alarm | fence | access_gate | camera
    location: str


@dataclass(frozen=True)
class SchoolSpec:
    id: str
    name: str
    devices: tuple[DeviceSpec, ...]
    flakiness: float = 1.0  # scales how often its devices fail
    gateway_outage_h: float = 0.0  # its gateway drops off once for this long: every device offline
    new_camera_day: int | None = None  # a camera installed on this day of the month: unknown until then


def standard_school(school_id: str, name: str, prefix: str, cameras: int = 4, **extra: Any) -> SchoolSpec:
    """Two panic buttons, a fence, a gate and some cameras, as the demo's schools have."""
    devices = [
        DeviceSpec(f"{prefix}-panic-gate", "one_click_alarm", "门卫室"),
        DeviceSpec(f"{prefix}-panic-office", "one_click_alarm", "校长室"),
        DeviceSpec(f"{prefix}-fence", "fence", "东侧围墙"),
        DeviceSpec(f"{prefix}-gate-main", "access_gate", "校门"),
    ]
    places = ["校门", "操场", "食堂", "教学楼走廊", "宿舍入口", "停车场"]
    devices += [DeviceSpec(f"{prefix}-cam-{n + 1}", "camera", places[n % len(places)]) for n in range(cameras)]
    return SchoolSpec(school_id, name, tuple(devices), **extra)


class _Writer:
    def __init__(self, session: Session, rng: random.Random, start: datetime, end: datetime) -> None:
        self.session, self.rng, self.start, self.end = session, rng, start, end
        self.alarm_n = 0

    def at(self, low: float = 0.0, high: float = 1.0) -> datetime:
        span = (self.end - self.start).total_seconds()
        return self.start + timedelta(seconds=int(self.rng.uniform(low, high) * span))

    def disposition(self, kind: str) -> str | None:
        choices, weights = DISPOSITIONS.get(kind, (["other"], [1]))
        return self.rng.choices(choices, weights=weights)[0]

    def transition(self, school: str, device: str, at: datetime, state: str, reason: str | None = None) -> None:
        self.session.add(
            Transition(school_id=school, gateway_id="gw-01", device_id=device, at=at, availability=state, reason=reason)
        )

    def alarm(
        self, school: str, device: str | None, kind: str, at: datetime, *, severity: str, ack_s: float, fix_s: float
    ) -> str:
        self.alarm_n += 1
        alarm_id = f"hist-{self.alarm_n:05d}"
        done = at + timedelta(seconds=fix_s)
        self.session.add(
            Alarm(
                id=alarm_id, school_id=school, gateway_id="gw-01", device_id=device, kind=kind, severity=severity,
                latched=kind == "panic", state="resolved", condition="cleared", raised_at=at, received_at=at,
                cleared_at=done, acknowledged_at=at + timedelta(seconds=ack_s), acknowledged_by="值班保安",
                resolved_at=done, resolved_by="值班保安", ended_by="device", disposition=self.disposition(kind),
            )
        )  # fmt: skip
        return alarm_id


DISPOSITIONS = {  # what schools' panic presses turn out to be, roughly: most are mistakes and tests
    "panic": (["false_alarm", "test", "real", "drill"], [50, 25, 15, 10]),
    "device_offline": (["device_fault", "other"], [85, 15]),
    "video_blind": (["device_fault", "other"], [60, 40]),
}


def _spells(w: _Writer, count: int, low_s: float, high_s: float) -> Iterator[tuple[datetime, datetime]]:
    """``count`` spells that do not overlap, each between low_s and high_s long (log-uniform)."""
    taken: list[tuple[datetime, datetime]] = []
    for _ in range(count * 4):
        if len(taken) == count:
            break
        begin = w.at(0.0, 0.97)
        length = timedelta(seconds=low_s * (high_s / low_s) ** w.rng.random())
        finish = min(begin + length, w.end - timedelta(minutes=1))
        if all(finish < a or begin > b for a, b in taken):
            taken.append((begin, finish))
    yield from sorted(taken)


def _device_month(
    w: _Writer, school: SchoolSpec, device: DeviceSpec, first_seen: datetime, away: tuple[datetime, datetime] | None
) -> None:
    w.session.add(
        Device(
            school_id=school.id, id=device.id, gateway_id="gw-01", kind=device.kind, location=device.location,
            availability="online", since=first_seen,
        )
    )  # fmt: skip
    w.transition(school.id, device.id, first_seen, "online")  # unknown before: never heard from
    failures = min(5, round(w.rng.choices([0, 1, 2, 3], weights=[55, 30, 10, 5])[0] * school.flakiness))
    events = [(a, b, "offline") for a, b in _spells(w, failures, 300, 40 * 3600) if a > first_seen]
    if device.kind == "camera":
        covered = w.rng.choices([0, 1, 2], weights=[60, 30, 10])[0]
        events += [(a, b, "degraded") for a, b in _spells(w, covered, 1800, 8 * 3600) if a > first_seen]
    last_end = w.start
    for begin, finish, state in sorted(events):
        if begin <= last_end or (away and begin <= away[1] and finish >= away[0]):  # the gateway outage rules then
            continue
        w.transition(school.id, device.id, begin, state, "timeout" if state == "offline" else "video_blind")
        w.transition(school.id, device.id, finish, "online")
        last_end = finish
        w.alarm(
            school.id, device.id, "device_offline" if state == "offline" else "video_blind", begin,
            severity="major", ack_s=w.rng.uniform(30, 900), fix_s=(finish - begin).total_seconds(),
        )  # fmt: skip
    if device.kind == "one_click_alarm":
        for press in range(w.rng.choice([0, 1, 1, 2])):
            at = w.at(0.02, 0.95) + timedelta(seconds=press)
            alarm_id = w.alarm(
                school.id, device.id, "panic", at, severity="critical",
                ack_s=w.rng.uniform(4, 60), fix_s=w.rng.uniform(120, 1500),
            )  # fmt: skip
            _forwarded(w, school.id, device.id, alarm_id, at)


def _gateway_outage(w: _Writer, school: SchoolSpec, begin: datetime, finish: datetime) -> None:
    """The school's gateway off the network for a while: every device offline (gateway_offline) meanwhile."""
    w.alarm(school.id, None, "gateway_offline", begin, severity="critical", ack_s=w.rng.uniform(60, 600),
            fix_s=(finish - begin).total_seconds())  # fmt: skip
    for device in school.devices:
        w.transition(school.id, device.id, begin, "offline", "gateway_offline")
        w.transition(school.id, device.id, finish, "online")


def _forwarded(w: _Writer, school: str, device: str, alarm_id: str, at: datetime) -> None:
    latency_ms = w.rng.uniform(60, 400) if w.rng.random() > 0.1 else w.rng.uniform(1200, 3500)
    row = OutboxRow(
        alarm_id=alarm_id, route="police-110", restore=False, kind="panic", school_id=school, device_id=device,
        account="1234", area=1, zone=1, cid=120, sia="PA", event_at=at, created_at=at, state="delivered",
        attempts=1, rounds=1, next_attempt_at=at, delivered_at=at + timedelta(milliseconds=latency_ms),
        delivered_to="primary",
    )  # fmt: skip
    w.session.add(row)
    w.session.flush()
    w.session.add(
        Attempt(
            outbox_id=row.id, receiver="primary", hub="hub-1", started_at=at, result="ack", seq=1,
            finished_at=at + timedelta(milliseconds=latency_ms), rtt_ms=latency_ms,
        )
    )  # fmt: skip


def write_month(session: Session, schools: list[SchoolSpec], start: datetime, end: datetime, seed: int = 2026) -> None:
    """A month [start, end) of history for these schools: states, outages, covered cameras, alarms,
    panic presses forwarded to the police. Commits."""
    rng = random.Random(seed)  # noqa: S311 - made-up history, not a secret
    writer = _Writer(session, rng, start, end)
    for school in schools:
        session.add(School(id=school.id, name=school.name, first_seen=start - timedelta(days=40)))
        session.add(Gateway(school_id=school.id, id="gw-01", availability="online", since=start - timedelta(days=40)))
        away = None
        if school.gateway_outage_h:
            begin = writer.at(0.3, 0.6)
            away = (begin, begin + timedelta(hours=school.gateway_outage_h))
        for device in school.devices:
            joined = school.new_camera_day is not None and device == school.devices[-1]
            first_seen = (
                start + timedelta(days=(school.new_camera_day or 1) - 1) if joined else start - timedelta(days=40)
            )
            _device_month(writer, school, device, first_seen, away)
        if away:
            _gateway_outage(writer, school, *away)
    session.commit()
