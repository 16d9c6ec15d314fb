"""Rule packs and school profiles from YAML: validated, with the file, field and reason of any error."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.domain.compliance.checks import CHECKS
from hub.domain.compliance.model import (
    LOCATIONS,
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
    from hub.settings import HubSettings

PACKS_DIR = Path(__file__).resolve().parent / "packs"


class ComplianceFileError(ValueError):
    """A pack or profile file that cannot be used: ``file: field: reason`` (``loc`` and ``reason`` apart)."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = (), reason: str = "") -> None:
        super().__init__(message)
        self.loc, self.reason = loc, reason or message


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
    boarding: bool | None = None
    in_force_from: date | None = None
    in_force_until: date | None = None
    repair_within_h: float | None = Field(default=None, gt=0, le=24 * 365)
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


class _Attributes(BaseModel):
    """Declared facts about a device; the ones rules read have a form, others are short texts or numbers."""

    model_config = ConfigDict(frozen=True, extra="allow")
    resolution: str | None = Field(default=None, pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")
    retention_days: float | None = Field(default=None, ge=0, le=36500)

    @model_validator(mode="after")
    def _plain_extras(self) -> "_Attributes":
        extra = self.model_extra or {}
        if len(extra) > 50:
            raise ValueError("more than 50 attributes")
        for name, value in extra.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float) or len(str(value)) > 200:
                raise ValueError(f"{name}: a text of up to 200 characters or a number")
        return self


class _Point(_Strict):
    device_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=64)
    required_platform: Platform | None = None
    networked: list[_Networked] = Field(default_factory=list)
    attributes: _Attributes = Field(default_factory=_Attributes)

    @field_validator("location")
    @classmethod
    def _known_location(cls, value: str) -> str:
        if value not in LOCATIONS:
            raise ValueError(f"unknown location {value!r}; known: {', '.join(LOCATIONS)}")
        return value


class _Profile(_Strict):
    school_id: str = Field(min_length=1, max_length=64)
    packs: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
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
    return ComplianceFileError(f"{path}: {where}: {first['msg']}", tuple(first["loc"]), first["msg"])


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
            boarding=r.boarding,
            in_force_from=r.in_force_from,
            in_force_until=r.in_force_until,
            repair_within_h=r.repair_within_h,
        )
        for r in pack.rules
    ]


def load_profiles(path: Path) -> list[SchoolProfile]:
    """The school profiles of a file (``schools: [...]``); ComplianceFileError names file, field, reason."""
    try:
        data = _Profiles.model_validate(_read(path))
    except ValidationError as exc:
        raise _error(path, exc) from None
    return [_profile(p) for p in data.schools]


def parse_profile(data: Any, where: str) -> SchoolProfile:
    """One school's profile from JSON-like data; ComplianceFileError says ``where: field: reason``."""
    try:
        return _profile(_Profile.model_validate(data))
    except ValidationError as exc:
        raise _error(Path(where), exc) from None


def profile_data(profile: SchoolProfile) -> dict[str, Any]:
    """A profile as the JSON a file or the API holds (the inverse of ``parse_profile``)."""
    out: dict[str, Any] = {"school_id": profile.school_id}
    for name in ("packs", "type", "boarding", "pickup_cards"):
        value = getattr(profile, name)
        if value is not None:
            out[name] = list(value) if isinstance(value, tuple) else str(value) if name == "type" else value
    if profile.perimeter is not None:
        out["perimeter"] = [{k: v for k, v in vars(s).items() if v is not None} for s in profile.perimeter]
    out["points"] = [
        {
            "device_id": p.device_id, "kind": p.kind, "location": p.location,
            **({"required_platform": str(p.required_platform)} if p.required_platform else {}),
            "networked": [
                {"platform": str(n.platform), "how": n.how, **({"by": n.by} if n.by else {}),
                 **({"at": n.at.isoformat()} if n.at else {})}
                for n in p.networked
            ],
            **({"attributes": dict(p.attributes)} if p.attributes else {}),
        }
        for p in profile.points
    ]  # fmt: skip
    return out


def _profile(p: "_Profile") -> SchoolProfile:
    return SchoolProfile(
        school_id=p.school_id,
        packs=tuple(p.packs) if p.packs is not None else None,
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
                pt.attributes.model_dump(exclude_none=True),
            )
            for pt in p.points
        ),
    )


def bundled_packs() -> dict[str, Path]:
    """The packs shipped with the hub, by name."""
    return {p.stem: p for p in sorted(PACKS_DIR.glob("*.yaml"))}


@dataclass(frozen=True)
class Configured:
    """The profiles file ``hub.yaml`` names, every bundled pack and the pack files named, loaded and checked."""

    profiles: tuple[SchoolProfile, ...]
    packs: Mapping[str, tuple[Rule, ...]]
    district_of: Mapping[str, str | None]  # school id → its district, from the directory


# Settings are immutable and few (one per hub); their dicts make them unhashable, so the caches
# below key on identity and keep the settings object itself, so an id is never reused meanwhile.
_LOADED: dict[int, tuple["HubSettings", Configured]] = {}
_SELECTED: dict[tuple[int, tuple[str, ...] | None, str | None], tuple["HubSettings", tuple[Rule, ...]]] = {}
_KEEP = 64


def configured(settings: "HubSettings") -> Configured:
    """The profiles and the packs they and the districts select (``compliance.packs`` by default); cached.

    A pack named nowhere is not loaded; a pack named but not found stops with where it was named.
    """
    hit = _LOADED.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    loaded = _load(settings)
    if len(_LOADED) >= _KEEP:
        _LOADED.clear()
        _SELECTED.clear()
    _LOADED[id(settings)] = (settings, loaded)
    return loaded


def _load(settings: "HubSettings") -> Configured:
    bundled = bundled_packs()
    profiles = tuple(load_profiles(settings.compliance.profiles)) if settings.compliance.profiles else ()
    named: dict[str, str] = dict.fromkeys(settings.compliance.packs, "compliance.packs")
    for d in settings.districts:
        named.update({n: f"districts.{d.id}.packs" for n in d.packs or () if n not in named})
    for p in profiles:
        named.update(
            {n: f"{settings.compliance.profiles}: {p.school_id}.packs" for n in p.packs or () if n not in named}
        )
    packs = {name: tuple(load_pack(path)) for name, path in bundled.items()}  # any may be named later
    for name, where in named.items():
        if name in packs:
            continue
        path = bundled.get(name) or Path(name)
        if not path.is_file():
            raise ComplianceFileError(f"{where}: no pack {name!r}; bundled: {', '.join(bundled)}")
        packs[name] = tuple(load_pack(path))
    known = {r.id for rules in packs.values() for r in rules}
    for n, o in enumerate(settings.compliance.overrides):
        if o.rule not in known:
            raise ComplianceFileError(f"compliance.overrides.{n}.rule: no rule {o.rule!r} in the packs in use")
    return Configured(profiles, packs, {s.id: s.district for s in settings.schools})


def rules_of(settings: "HubSettings", profile: SchoolProfile) -> tuple[Rule, ...]:
    """The rules a school is judged by: its packs (its own, its district's, or the hub's), with the
    parameters its district overrides."""
    district = configured(settings).district_of.get(profile.school_id)
    key = (id(settings), profile.packs, district)
    hit = _SELECTED.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    rules = _rules(settings, profile.packs, district)
    _SELECTED[key] = (settings, rules)
    return rules


def _rules(settings: "HubSettings", own: tuple[str, ...] | None, district: str | None) -> tuple[Rule, ...]:
    packs = configured(settings).packs
    entry = next((d for d in settings.districts if d.id == district), None)
    names = own if own is not None else entry.packs if entry is not None and entry.packs is not None else None
    rules: dict[str, Rule] = {}
    for name in names if names is not None else settings.compliance.packs:
        if name not in packs:  # a stored profile naming a pack file since removed
            raise ComplianceFileError(f"no pack {name!r} loaded; bundled and configured: {', '.join(packs)}")
        rules.update({r.id: r for r in packs[name]})
    for o in settings.compliance.overrides:
        if o.rule in rules and o.district in (None, district):
            rule = rules[o.rule]
            rules[o.rule] = replace(rule, params={**rule.params, **o.params}, overridden=o.reason)
    return tuple(rules.values())
