"""Compliance findings of the schools in the caller's scope (``hub.domain.compliance``)."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hub.api.deps import PrincipalDep, Services, ServicesDep, SessionDep
from hub.api.inventory import schools_asked
from hub.compliance.files import ComplianceFileError, configured, rules_of
from hub.compliance.judge import judge
from hub.compliance.kpis import kpis_of
from hub.compliance.ledger import as_of, open_rows
from hub.compliance.models import FindingRow
from hub.compliance.observe import Metrics, metrics_from
from hub.compliance.stored import profiles_of
from hub.compliance.targets import Standing, targets
from hub.compliance.targets import total as target_total
from hub.domain.compliance.kpis import total
from hub.domain.compliance.model import Finding, Rule
from hub.settings import HubSettings

router = APIRouter(tags=["compliance"])


class FindingOut(BaseModel):
    """One rule's verdict on one subject, with the rule's text and where it comes from."""

    school_id: str
    rule_id: str
    subject: str
    status: str
    evidence: str
    missing: list[str]
    severity: str
    text_zh: str
    text_en: str
    source: dict[str, str]
    overridden: str | None = Field(default=None, description="why the district changed this rule's parameters")
    since: datetime | None = Field(default=None, description="when the finding took this status (the ledger's)")
    deadline: datetime | None = Field(default=None, description="a failure's repair deadline, if its rule sets one")
    overdue: bool = Field(default=False, description="failing past its deadline")


def check_files(settings: HubSettings) -> None:
    """At start-up: a bad profiles file or pack stops the hub, naming file, field and reason."""
    configured(settings)


def live_metrics(svc: Services) -> Metrics:
    """Each device's metrics in its gateway's last heartbeat (what rules about cameras read)."""
    return metrics_from(svc.ingest.state)


@router.get("/compliance/findings")
def findings(
    svc: ServicesDep,
    who: PrincipalDep,
    session: SessionDep,
    *,
    school: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(pass|fail|unknown)$")] = None,
    at: Annotated[datetime | None, Query(description="the findings as the ledger had them then")] = None,
) -> list[FindingOut]:
    """Every finding of every profiled school in scope (or of one school, or of one status), judged
    now with when each began; or, with ``at``, as they stood then."""
    try:
        profiles = profiles_of(session, svc.settings)
        wanted = [p.school_id for p in profiles if who.scope.allows(p.school_id) and school in (None, p.school_id)]
        rules = {p.school_id: {r.id: r for r in rules_of(svc.settings, p)} for p in profiles if p.school_id in wanted}
        if at is not None:
            if at.tzinfo is None:
                raise HTTPException(422, "at: give a time zone (e.g. 2026-11-28T08:00:00+08:00)")
            return [_out(rules[r.school_id], r, None) for r in as_of(session, wanted, at) if status in (None, r.status)]
        now = svc.now()
        judged = judge(session, svc.settings, wanted, now, live_metrics(svc))
        ledger = open_rows(session, wanted)
    except ComplianceFileError as exc:  # the file changed since start-up and no longer loads
        raise HTTPException(503, str(exc)) from None
    out = []
    for school_id, j in judged.items():
        for f in j.findings:
            if status in (None, f.status.value):
                row = ledger.get((school_id, f.rule_id, f.subject))
                out.append(_out(rules[school_id], f, now, school_id, row if row and row.status == f.status else None))
    return out


def _out(
    rules: dict[str, Rule],
    f: Finding | FindingRow,
    now: datetime | None,
    school_id: str | None = None,
    row: FindingRow | None = None,
) -> FindingOut:
    """A finding (judged now, with its ledger row if it has one) or a ledger row, as the API shows it."""
    rule = rules.get(f.rule_id)
    ledger = f if isinstance(f, FindingRow) else row
    missing = f.missing.split("\n") if isinstance(f, FindingRow) else list(f.missing)
    deadline = ledger.deadline if ledger else None
    return FindingOut(
        school_id=f.school_id if isinstance(f, FindingRow) else school_id or "", rule_id=f.rule_id,
        subject=f.subject, status=str(f.status), evidence=f.evidence, missing=[m for m in missing if m],
        severity=rule.severity if rule else "", text_zh=rule.text_zh if rule else f.rule_id,
        text_en=rule.text_en if rule else f.rule_id, source=vars(rule.source) if rule else {},
        overridden=rule.overridden if rule else None, since=ledger.since if ledger else None, deadline=deadline,
        overdue=bool(now and deadline and deadline < now and str(f.status) == "fail"),
    )  # fmt: skip


class SchoolKpisOut(BaseModel):
    school_id: str
    networking_rate: float | None = Field(description="联网率: required points networked ÷ required points")
    required: int
    networked: int
    compliant: bool | None = Field(description="达标: every rule passes and every declared device is up; null: unknown")
    reasons: list[str]


class KpisOut(BaseModel):
    compliance_rate: float | None = Field(description="达标率: 达标 schools ÷ schools (unknown ones not 达标)")
    networking_rate: float | None = Field(description="联网率 over every school's required points")
    schools_total: int
    compliant: int
    not_compliant: int
    unknown: int
    schools: list[SchoolKpisOut]


@router.get("/compliance/kpis")
def compliance_kpis(
    svc: ServicesDep,
    who: PrincipalDep,
    session: SessionDep,
    district: Annotated[str | None, Query(max_length=64)] = None,
    school: Annotated[str | None, Query(max_length=64)] = None,
) -> KpisOut:
    """联网率 and 达标率 now, per school in the caller's scope (or one district's, or one school's)."""
    try:
        asked = schools_asked(svc, who, session, district, school)
        rows = kpis_of(session, svc.settings, asked, svc.now(), live_metrics(svc))
    except ComplianceFileError as exc:
        raise HTTPException(503, str(exc)) from None
    t = total(rows)
    return KpisOut(
        compliance_rate=t.compliance_rate, networking_rate=t.networking_rate, schools_total=t.schools,
        compliant=t.compliant, not_compliant=t.not_compliant, unknown=t.unknown,
        schools=[
            SchoolKpisOut(school_id=k.school_id, networking_rate=k.networking_rate, required=k.required,
                          networked=k.networked, compliant=k.compliant, reasons=list(k.reasons))
            for k in rows
        ],
    )  # fmt: skip


class StandingOut(BaseModel):
    district: str | None
    bound: int = Field(description="schools the target binds")
    met: int
    missed: int
    unknown: int = Field(description="schools lacking the data to tell: never counted as met")
    rate: float | None = Field(description="met ÷ bound")
    missed_schools: list[str]


class TargetOut(BaseModel):
    rule_id: str
    text_zh: str
    text_en: str
    source: dict[str, str]
    deadline: date = Field(description="the last day to meet it")
    past: bool = Field(description="the deadline has passed")
    total: StandingOut
    districts: list[StandingOut]


def _standing(s: Standing) -> StandingOut:
    return StandingOut(district=s.district, bound=s.bound, met=s.met, missed=s.missed, unknown=s.unknown,
                       rate=s.rate, missed_schools=sorted(s.missed_schools))  # fmt: skip


@router.get("/compliance/targets")
def compliance_targets(
    svc: ServicesDep,
    who: PrincipalDep,
    session: SessionDep,
    district: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TargetOut]:
    """Targets with a deadline and where each district in scope stands on them, judged now."""
    try:
        found = targets(session, svc.settings, schools_asked(svc, who, session, district, None), svc.now())
    except ComplianceFileError as exc:
        raise HTTPException(503, str(exc)) from None
    return [
        TargetOut(
            rule_id=t.rule.id, text_zh=t.rule.text_zh, text_en=t.rule.text_en, source=vars(t.rule.source),
            deadline=t.deadline, past=t.past, total=_standing(target_total(t)),
            districts=[_standing(s) for _, s in sorted(t.districts.items(), key=lambda i: i[0] or "")],
        )
        for t in found
    ]  # fmt: skip
