"""Compliance findings of the schools in the caller's scope (``hub.domain.compliance``)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hub.api.deps import PrincipalDep, Services, ServicesDep, SessionDep
from hub.api.inventory import schools_asked
from hub.compliance.files import ComplianceFileError, configured
from hub.compliance.judge import judge
from hub.compliance.kpis import kpis_of
from hub.compliance.observe import Metrics
from hub.domain.compliance.kpis import total
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


def check_files(settings: HubSettings) -> None:
    """At start-up: a bad profiles file or pack stops the hub, naming file, field and reason."""
    configured(settings)


def live_metrics(svc: Services) -> Metrics:
    """Each device's metrics in its gateway's last heartbeat (what rules about cameras read)."""

    def metrics(school: str, device: str) -> dict[str, float | str | None] | None:
        last = svc.ingest.state.metrics(school, device)
        return {k: v for k, v in last[0].items() if not isinstance(v, bool)} if last else None

    return metrics


@router.get("/compliance/findings")
def findings(
    svc: ServicesDep,
    who: PrincipalDep,
    session: SessionDep,
    school: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(pass|fail|unknown)$")] = None,
) -> list[FindingOut]:
    """Every finding of every profiled school in scope (or of one school, or of one status), judged now."""
    try:
        profiles = configured(svc.settings).profiles
        wanted = [p.school_id for p in profiles if who.scope.allows(p.school_id) and school in (None, p.school_id)]
        judged = judge(session, svc.settings, wanted, svc.now(), live_metrics(svc))
    except ComplianceFileError as exc:  # the file changed since start-up and no longer loads
        raise HTTPException(503, str(exc)) from None
    out = []
    for school_id, j in judged.items():
        by_id = {r.id: r for r in j.rules}
        for f in j.findings:
            if status not in (None, f.status.value):
                continue
            rule = by_id[f.rule_id]
            out.append(
                FindingOut(
                    school_id=school_id, rule_id=f.rule_id, subject=f.subject, status=f.status.value,
                    evidence=f.evidence, missing=list(f.missing), severity=rule.severity, text_zh=rule.text_zh,
                    text_en=rule.text_en, source=vars(rule.source), overridden=rule.overridden,
                )
            )  # fmt: skip
    return out


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
