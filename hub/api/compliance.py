"""Compliance findings of the schools in the caller's scope (``hub.domain.compliance``)."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from hub.api.deps import PrincipalDep, ServicesDep
from hub.compliance.files import ComplianceFileError, configured
from hub.domain.compliance.checks import evaluate
from hub.settings import ComplianceSettings

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


def check_files(settings: ComplianceSettings) -> None:
    """At start-up: a bad profiles file or pack stops the hub, naming file, field and reason."""
    configured(settings)


@router.get("/compliance/findings")
def findings(
    svc: ServicesDep, who: PrincipalDep, school: str | None = None, status: str | None = None
) -> list[FindingOut]:
    """Every finding of every profiled school in scope (or of one school, or of one status)."""
    try:
        profiles, rules = configured(svc.settings.compliance)
    except ComplianceFileError as exc:  # the file changed since start-up and no longer loads
        raise HTTPException(503, str(exc)) from None
    by_id = {r.id: r for r in rules}
    out = []
    for profile in profiles:
        if not who.scope.allows(profile.school_id) or school not in (None, profile.school_id):
            continue
        for f in evaluate(profile, list(rules)):
            if status not in (None, f.status.value):
                continue
            rule = by_id[f.rule_id]
            out.append(
                FindingOut(
                    school_id=profile.school_id, rule_id=f.rule_id, subject=f.subject, status=f.status.value,
                    evidence=f.evidence, missing=list(f.missing), severity=rule.severity, text_zh=rule.text_zh,
                    text_en=rule.text_en, source=vars(rule.source),
                )
            )  # fmt: skip
    return out
