"""Rule packs and school profiles from YAML: validated, with the file, field and reason of any error."""

from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.domain.compliance.checks import CHECKS
from hub.domain.compliance.model import (
    Networked,
    Platform,
    Point,
    Rule,
    SchoolProfile,
    SchoolType,
    Segment,
    Source,
)

if TYPE_CHECKING:
    from hub.settings import ComplianceSettings

PACKS_DIR = Path(__file__).resolve().parent / "packs"


class ComplianceFileError(ValueError):
    """A pack or profile file that cannot be used: ``file: field: reason``."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Source(_Strict):
    document: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    quote: str = Field(min_length=1)
    confidence: Literal["SEC", "SRC", "LOCAL", "INF", "RECALL"]


class _Rule(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    text_zh: str = Field(min_length=1)
    text_en: str = Field(min_length=1)
    severity: Literal["critical", "major", "minor"]
    check: str
    params: dict[str, float | str] = Field(default_factory=dict)
    school_types: list[SchoolType] | None = None
    source: _Source


class _Pack(_Strict):
    pack: str = Field(min_length=1)
    title: str = ""
    rules: list[_Rule] = Field(min_length=1)


class _Segment(_Strict):
    id: str = Field(min_length=1, max_length=64)
    wall_height_m: float | None = Field(default=None, ge=0, le=20)
    fence_zone: str | None = Field(default=None, min_length=1, max_length=64)


class _Networked(_Strict):
    platform: Platform
    how: Literal["forwarding_test", "registration", "attested"]
    by: str | None = None
    at: date | None = None


class _Point(_Strict):
    device_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=64)
    required_platform: Platform | None = None
    networked: list[_Networked] = Field(default_factory=list)


class _Profile(_Strict):
    school_id: str = Field(min_length=1, max_length=64)
    type: SchoolType | None = None
    boarding: bool | None = None
    pickup_cards: bool | None = None
    perimeter: list[_Segment] | None = None
    points: list[_Point] = Field(default_factory=list)


class _Profiles(_Strict):
    schools: list[_Profile] = Field(min_length=1)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ComplianceFileError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ComplianceFileError(f"{path}: not YAML: {exc}") from None


def _error(path: Path, exc: ValidationError) -> ComplianceFileError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(document)"
    return ComplianceFileError(f"{path}: {where}: {first['msg']}")


def load_pack(path: Path) -> list[Rule]:
    """A rule pack's rules; ComplianceFileError names the file, field and reason."""
    try:
        pack = _Pack.model_validate(_read(path))
    except ValidationError as exc:
        raise _error(path, exc) from None
    for n, rule in enumerate(pack.rules):
        if rule.check not in CHECKS:
            raise ComplianceFileError(f"{path}: rules.{n}.check: unknown check {rule.check!r}; known: {sorted(CHECKS)}")
    return [
        Rule(
            id=r.id,
            text_zh=r.text_zh,
            text_en=r.text_en,
            severity=r.severity,
            source=Source(**r.source.model_dump()),
            check=r.check,
            school_types=frozenset(r.school_types) if r.school_types is not None else None,
            params=dict(r.params),
        )
        for r in pack.rules
    ]


def load_profiles(path: Path) -> list[SchoolProfile]:
    """The school profiles of a file (``schools: [...]``); ComplianceFileError names file, field, reason."""
    try:
        data = _Profiles.model_validate(_read(path))
    except ValidationError as exc:
        raise _error(path, exc) from None
    return [
        SchoolProfile(
            school_id=p.school_id,
            type=p.type,
            boarding=p.boarding,
            pickup_cards=p.pickup_cards,
            perimeter=tuple(Segment(**s.model_dump()) for s in p.perimeter) if p.perimeter is not None else None,
            points=tuple(
                Point(
                    pt.device_id,
                    pt.kind,
                    pt.location,
                    pt.required_platform,
                    tuple(Networked(**n.model_dump()) for n in pt.networked),
                )
                for pt in p.points
            ),
        )
        for p in data.schools
    ]


def bundled_packs() -> dict[str, Path]:
    """The packs shipped with the hub, by name."""
    return {p.stem: p for p in sorted(PACKS_DIR.glob("*.yaml"))}


@cache
def configured(settings: "ComplianceSettings") -> tuple[tuple[SchoolProfile, ...], tuple[Rule, ...]]:
    """The profiles and rules ``hub.yaml`` selects (every bundled pack when it names none); cached."""
    packs = bundled_packs()
    names = settings.packs if settings.packs is not None else tuple(sorted(packs))
    rules = tuple(r for name in names for r in load_pack(packs.get(name) or Path(name)))
    profiles = tuple(load_profiles(settings.profiles)) if settings.profiles else ()
    return profiles, rules
