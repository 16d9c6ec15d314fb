"""The monthly report: a known month of rows in, the figures a bureau reads out, in every format.

October 2026 in Shanghai runs from 2026-09-30T16:00Z to 2026-10-31T16:00Z. The rows are written
straight into a migrated database (SQLite and PostgreSQL): how ingest writes them is tested elsewhere.
"""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from hub.db.engine import make_engine, migrate, session_factory
from hub.db.models import Alarm, Device, School, Transition
from hub.forwarding.models import Attempt, OutboxRow
from hub.report.collect import build
from hub.report.model import Month, MonthlyReport, NotVisible, ReportError, Scope, UnknownScope
from hub.report.render import render
from hub.settings import HubSettings

SH = ZoneInfo("Asia/Shanghai")
OCT = Month(2026, 10)
AFTER = datetime(2026, 11, 20, tzinfo=UTC)  # the month is over
PROFILES = """schools:
  - school_id: school-a
    type: primary
    perimeter: [{id: west, wall_height_m: 1.6}]
"""


def local(day: int, hour: float, month: int = 10) -> datetime:
    return datetime(2026, month, day, tzinfo=SH).astimezone(UTC) + timedelta(hours=hour)


def settings_for(tmp_path: Path, db_url: str) -> HubSettings:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(PROFILES, encoding="utf-8")
    return HubSettings.model_validate(
        {
            "database": {"url": db_url},
            "districts": [{"id": "d1", "name": "示范区"}, {"id": "d2", "name": "北区"}],
            "schools": [
                {"id": "school-a", "name": "第一小学", "district": "d1"},
                {"id": "school-b", "name": "阳光幼儿园", "district": "d1"},
                {"id": "school-c", "name": "伦敦学校", "district": "d2", "timezone": "Europe/London"},
            ],
            "compliance": {"profiles": str(profiles), "packs": ["zhenjiang-2018"]},
        }
    )


class Rows:
    def __init__(self, session: Session) -> None:
        self.session = session

    def device(self, school: str, device: str, kind: str, states: list[tuple[datetime, str]]) -> None:
        self.session.add(
            Device(school_id=school, id=device, gateway_id="gw", kind=kind, location="校门", since=states[0][0])
        )
        for at, state in states:
            self.session.add(Transition(school_id=school, gateway_id="gw", device_id=device, at=at, availability=state))

    def alarm(self, n: int, school: str, kind: str, at: datetime, ack_s: float | None, fix_s: float | None) -> None:
        self.session.add(
            Alarm(
                id=f"a{n}", school_id=school, gateway_id="gw", device_id="panic-1", kind=kind, severity="critical",
                raised_at=at, received_at=at, disposition="false_alarm" if fix_s is not None else None,
                acknowledged_at=at + timedelta(seconds=ack_s) if ack_s is not None else None,
                resolved_at=at + timedelta(seconds=fix_s) if fix_s is not None else None,
            )
        )  # fmt: skip

    def forwarded(self, school: str, at: datetime, latency_ms: float | None, failures: int = 0) -> None:
        row = OutboxRow(
            alarm_id=f"f{at.timestamp()}", route="110", kind="panic", school_id=school, account="1", area=1, zone=1,
            cid=120, sia="PA", event_at=at, created_at=at, next_attempt_at=at,
            state="delivered" if latency_ms is not None else "pending",
            delivered_at=at + timedelta(milliseconds=latency_ms) if latency_ms is not None else None,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        for result in ["timeout"] * failures + (["ack"] if latency_ms is not None else []):
            self.session.add(Attempt(outbox_id=row.id, receiver="r", hub="h", started_at=at, result=result))


def october(rows: Rows) -> None:
    """school-a: cam-1 down 2 h on 5 Oct and 30 h from 10 Oct; cam-2 covered 6 h on 6 Oct; a panic
    button. school-b: cam-9 down from 31 Oct 20:00 to 1 Nov 02:00. school-c (London): one camera."""
    before = local(1, 0) - timedelta(days=3)
    rows.session.add_all([School(id=s, first_seen=before) for s in ("school-a", "school-b", "school-c")])
    rows.device(
        "school-a", "cam-1", "camera",
        [(before, "online"), (local(5, 9), "offline"), (local(5, 11), "online"), (local(10, 8), "offline"),
         (local(11, 14), "online")],
    )  # fmt: skip
    rows.device(
        "school-a", "cam-2", "camera", [(before, "online"), (local(6, 8), "degraded"), (local(6, 14), "online")]
    )
    rows.device("school-a", "panic-1", "one_click_alarm", [(before, "online")])
    rows.device(
        "school-b", "cam-9", "camera", [(before, "online"), (local(31, 20), "offline"), (local(1, 2, 11), "online")]
    )
    rows.device("school-c", "cam-x", "camera", [(before, "online")])
    rows.alarm(1, "school-a", "panic", local(3, 10), ack_s=10, fix_s=600)
    rows.alarm(2, "school-a", "panic", local(20, 10), ack_s=30, fix_s=None)
    rows.alarm(3, "school-a", "panic", local(1, 0) - timedelta(minutes=1), ack_s=5, fix_s=5)  # 30 Sept: not October
    rows.alarm(4, "school-a", "panic", local(1, 0, 11) + timedelta(minutes=1), ack_s=5, fix_s=5)  # 1 Nov: not either
    rows.forwarded("school-a", local(3, 10), 180)
    rows.forwarded("school-a", local(20, 10), 2600, failures=2)
    rows.forwarded("school-b", local(21, 10), None, failures=3)
    rows.session.commit()


@pytest.fixture
def district(tmp_path: Path, db_url: str) -> Iterator[tuple[HubSettings, sessionmaker[Session]]]:
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        october(Rows(session))
    yield settings_for(tmp_path, db_url), sessions
    engine.dispose()


def report_of(district: Any, scope: str = "district:d1", now: datetime = AFTER, **kw: Any) -> MonthlyReport:
    settings, sessions = district
    with sessions() as session:
        return build(session, settings, scope=Scope.parse(scope), month=OCT, now=now, **kw)


def test_a_known_month_gives_the_rates_outages_repairs_alarms_and_forwarding_a_bureau_reads(district: Any) -> None:
    r = report_of(district)
    month_s = 31 * 86400
    assert (r.start, r.end, r.complete, r.scope_name) == (local(1, 0), local(1, 0, 11), True, "示范区")
    b, a = r.schools  # ranked: school-b (4 h down of 31 days) above school-a
    assert (b.school_id, b.rank, a.school_id, a.rank) == ("school-b", 1, "school-a", 2)
    assert a.cameras.offline_s == 32 * 3600 and a.cameras.degraded_s == 6 * 3600
    assert a.cameras.online_rate == pytest.approx(1 - 32 / (2 * 31 * 24))
    assert a.cameras.intact_rate == pytest.approx(1 - 38 / (2 * 31 * 24))
    assert b.all_devices.offline_s == 4 * 3600  # 20:00 to midnight: 1 Nov's two hours are November's
    assert a.days["2026-10-05"].offline_s == 2 * 3600 and a.days["2026-10-10"].offline_s == 16 * 3600
    assert (a.district, a.name, a.devices, a.alarms, a.panic) == ("示范区", "第一小学", 3, 2, 2)
    assert r.total.expected_s == 4 * month_s
    assert [(d.device_id, d.tally.offline_s, d.longest_outage_s) for d in r.longest_down] == [
        ("cam-1", 32 * 3600, 30 * 3600),
        ("cam-9", 4 * 3600, 4 * 3600),
    ]
    assert [d.device_id for d in r.cameras_not_intact] == ["cam-1", "cam-2", "cam-9"]  # by 完好率, worst first
    rep = r.repairs
    assert (rep.began, rep.repaired_in_time, rep.overdue, rep.still_down) == (3, 1, 1, 1)
    assert [(x.device_id, x.hours, x.up_at) for x in r.worst_repairs] == [("cam-1", 30.0, local(11, 14))]
    (panic,) = r.alarms
    assert (panic.raised, panic.acknowledged, panic.resolved, panic.still_open) == (2, 2, 1, 1)
    assert (panic.ack_median_s, panic.ack_p90_s, panic.resolve_median_s) == (20.0, 30.0, 600.0)
    assert panic.dispositions == (("false_alarm", 1),)
    f = r.forwarding
    assert (f.messages, f.delivered, f.within_2s, f.pending, f.failed_attempts) == (3, 2, 1, 1, 5)
    assert (f.latency_p50_ms, f.latency_max_ms) == (pytest.approx(1390), pytest.approx(2600))
    assert [(x.rule_id, x.status, x.subject) for x in r.findings if x.status == "fail"] == [
        ("ZJ2018-FENCE-LOW-WALL", "fail", "segment:west")
    ]
    assert (a.compliant, b.compliant, a.networking_rate) == (False, None, None)  # b has no profile: unknown
    assert r.kpis is not None and (r.kpis.compliant, r.kpis.not_compliant, r.kpis.unknown) == (0, 1, 1)
    assert r.kpis.compliance_rate == 0.0 and r.kpis.networking_rate is None  # no point declared to network


def test_each_school_s_month_is_cut_in_its_own_time_zone(district: Any) -> None:
    r = report_of(district, "city")
    london = next(s for s in r.schools if s.school_id == "school-c")
    assert min(london.days) == "2026-10-01" and max(london.days) == "2026-10-31"
    assert london.all_devices.expected_s == 31 * 86400 + 3600  # October in London ends on GMT: 25 h on the 25th
    assert london.days["2026-10-25"].expected_s == 25 * 3600


def test_a_month_not_over_is_cut_at_now_and_says_so(district: Any) -> None:
    now = local(15, 12)
    r = report_of(district, now=now)
    assert (r.complete, r.end) == (False, now)
    b = next(s for s in r.schools if s.school_id == "school-b")
    assert b.all_devices.expected_s == pytest.approx((now - local(1, 0)).total_seconds())
    assert r.repairs.began == 2  # the 31 October outage has not happened yet
    with pytest.raises(ReportError, match="has not begun"):
        report_of(district, now=local(1, 0) - timedelta(seconds=1))


def test_a_scope_is_whole_or_refused(district: Any) -> None:
    only_a = {"school-a"}.__contains__
    assert [s.school_id for s in report_of(district, "school:school-a", allowed=only_a).schools] == ["school-a"]
    with pytest.raises(NotVisible, match="1 of its 2 schools"):
        report_of(district, "district:d1", allowed=only_a)
    with pytest.raises(UnknownScope):
        report_of(district, "district:d2", allowed=only_a)
    with pytest.raises(UnknownScope, match="no schools"):
        report_of(district, "district:nowhere")
    with pytest.raises(UnknownScope, match="neither in the directory"):
        report_of(district, "school:ghost")
    for bad in ("2026-13", "26-10", "2026-1", "1-01-01", "9999-01", ""):
        with pytest.raises(ReportError, match="YYYY-MM"):
            Month.parse(bad)
    for bad in ("county:x", "district:", "school", "district:" + "x" * 65):
        with pytest.raises(ReportError, match="expected city"):
            Scope.parse(bad)


def test_every_format_is_the_same_bytes_each_time_and_says_what_the_html_says(district: Any) -> None:
    r = report_of(district)
    for fmt in ("html", "csv", "xlsx", "pdf"):
        assert render(r, fmt) == render(report_of(district), fmt), fmt
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render(r, "pdf"))).pages)
    squeezed = text.replace(" ", "").replace("\n", "")
    for words in ("示范区2026年10月校园安防设备运行月报", "第一小学", "阳光幼儿园", "cam-1", "ZJ2018-FENCE-LOW-WALL"):
        assert words in squeezed
    reader = pypdf.PdfReader(io.BytesIO(render(r, "pdf")))
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert any("WenQuanYi" in f for f in fonts), fonts  # a CJK font drew the Chinese, not boxes (make test installs it)
    english = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render(r, "pdf", "en"))).pages)
    assert "Monthly report on school security devices" in english
    rows = list(csv.reader(io.StringIO(render(r, "csv").decode("utf-8-sig"))))
    assert rows[0][:5] == ["排名", "学校", "区县", "设备数", "在线率 (%)"]
    assert rows[1][:3] == ["1", "阳光幼儿园", "示范区"] and float(rows[2][4]) == round(100 * (1 - 32 / 2232), 2)
    book = load_workbook(io.BytesIO(render(r, "xlsx")))
    assert book.sheetnames == [
        "学校排名", "每日在线率与完好率", "离线时间最长的设备", "未达完好的摄像机", "故障修复（24 小时时限）",
        "告警统计与处置", "报警联网（推送公安报警中心）", "不达标与待核实规则",
    ]  # fmt: skip
    ranking = book["学校排名"]
    assert isinstance(ranking["E3"].value, float) and ranking["E3"].number_format == "0.00"
    assert book["每日在线率与完好率"].max_row == 32  # a header and 31 days


def test_a_month_with_no_data_gives_no_rate_not_a_perfect_one(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    settings = settings_for(tmp_path, db_url)
    with session_factory(engine)() as session:
        r = build(session, settings, scope=Scope.parse("district:d1"), month=OCT, now=AFTER)
    assert [(s.school_id, s.rank, s.all_devices.online_rate, s.devices) for s in r.schools] == [
        ("school-a", None, None, 0),
        ("school-b", None, None, 0),
    ]
    assert r.total.online_rate is None and r.alarms == [] and r.forwarding.messages == 0
    for fmt in ("html", "csv", "xlsx", "pdf"):
        assert render(r, fmt)  # an empty month still renders: dashes, not errors
    engine.dispose()


def _hub_yaml(tmp_path: Path, db_url: str) -> Path:
    settings = settings_for(tmp_path, db_url)
    config = tmp_path / "hub.yaml"
    config.write_text(settings.model_dump_json(exclude_defaults=True), encoding="utf-8")  # JSON is YAML
    return config


def test_the_command_writes_the_file_and_refuses_a_bad_month_or_scope_in_one_line(
    district: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from campusguard.cli import main

    settings, _ = district
    config = _hub_yaml(tmp_path, settings.database.url)
    out = tmp_path / "r.xlsx"
    args = ["report", "--config", str(config), "--scope", "district:d1", "--month", "2026-10"]
    assert main([*args, "--format", "xlsx", "-o", str(out)]) == 0
    assert load_workbook(out).sheetnames[0] == "学校排名"
    assert "2 schools, 2026-09-30 to 2026-10-31" in capsys.readouterr().out
    assert main([*args[:-1], "2026-1", "--format", "csv"]) == 2
    assert "campusguard: month '2026-1': expected YYYY-MM" in capsys.readouterr().err
    assert main([*args[:4], "district:nowhere", "--month", "2026-10"]) == 2
    assert "district 'nowhere' has no schools" in capsys.readouterr().err


async def test_a_report_asked_for_while_another_is_made_waits_then_gets_429(
    district: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import HTTPException

    from hub.api import reports
    from hub.app import build_services
    from hub.auth.principal import Principal

    settings, _ = district
    svc = build_services(settings, now=lambda: AFTER)
    monkeypatch.setattr(reports, "WAIT_S", 0.2)
    gate = reports._one_at_a_time()
    await gate.acquire()  # a PDF being made
    try:
        with pytest.raises(HTTPException) as busy:
            await reports.monthly(svc=svc, who=Principal("b"), month="2026-10", scope="city", format="csv", lang="zh")
        assert busy.value.status_code == 429 and busy.value.headers == {"Retry-After": "10"}
        gate.release()
        ok = await reports.monthly(svc=svc, who=Principal("b"), month="2026-10", scope="city", format="csv", lang="zh")
        assert ok.status_code == 200  # free again
    finally:
        if gate.locked():
            gate.release()
        svc.sessions.kw["bind"].dispose()


async def test_the_api_serves_each_format_to_whoever_sees_the_whole_scope(district: Any, tmp_path: Path) -> None:
    from fastapi import HTTPException

    from hub.api.reports import monthly
    from hub.app import build_services
    from hub.auth.principal import Principal
    from hub.auth.roles import Scope as Visible

    settings, _ = district
    svc = build_services(settings, now=lambda: AFTER)
    bureau = Principal("bureau")
    try:
        pdf = await monthly(svc=svc, who=bureau, month="2026-10", scope="district:d1", format="pdf", lang="zh")
        assert pdf.media_type == "application/pdf" and pdf.body.startswith(b"%PDF-")
        assert pdf.headers["content-disposition"] == 'attachment; filename="report-district-d1-2026-10.pdf"'
        page = await monthly(svc=svc, who=bureau, month="2026-10", scope="city", format="html", lang="en")
        assert b"Schools ranked" in page.body and page.headers["content-disposition"] == "inline"
        school_a = Principal("head", authenticated=True, role="school_admin", scope=Visible(frozenset({"school-a"})))
        ok = await monthly(svc=svc, who=school_a, month="2026-10", scope="school:school-a", format="csv", lang="zh")
        assert "第一小学" in ok.body.decode("utf-8-sig")
        for scope, month, code in [
            ("district:d1", "2026-10", 403),  # school-b is not theirs: no report with it silently left out
            ("school:school-b", "2026-10", 404),
            ("city", "2026-10", 403),
            ("school:school-a", "2026-13", 422),
            ("school:school-a", "2027-01", 422),  # not begun
            ("county:x", "2026-10", 422),
        ]:
            with pytest.raises(HTTPException) as refused:
                await monthly(svc=svc, who=school_a, month=month, scope=scope, format="csv", lang="zh")
            assert refused.value.status_code == code, (scope, month)
    finally:
        svc.sessions.kw["bind"].dispose()
