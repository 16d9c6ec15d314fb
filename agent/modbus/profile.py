"""The profile of a Modbus device model: its registers (points), alarms and metrics."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from agent.profiles import (
    INTEGER_TYPES,
    AlarmRule,
    Name,
    Point,
    Strict,
    check_overlaps,
    expand_alarms,
    expand_points,
    located,
)


class ModbusSettings(Strict):
    """How the device speaks Modbus."""

    word_order: Literal["big", "little"] = "big"
    max_gap: int = Field(default=8, ge=0, le=100, description="unused addresses read through")
    max_registers_per_read: int = Field(default=125, ge=1, le=125)
    max_bits_per_read: int = Field(default=2000, ge=1, le=2000)


class ModbusProfile(Strict):
    """A Modbus device model: its kind, registers, points, alarms and metrics."""

    schema_version: Literal[1]
    kind: Literal["one_click_alarm", "fence", "access_gate"]
    vendor: Annotated[str, Field(min_length=1, max_length=64)]
    model: Annotated[str, Field(min_length=1, max_length=64)]
    description: str = ""
    driver: Literal["modbus"]
    modbus: ModbusSettings = ModbusSettings()
    points: list[Point] = Field(min_length=1)
    alarms: list[AlarmRule] = Field(default_factory=list)
    metrics: list[Name] = Field(default_factory=list, description="points sent in snapshots")

    @model_validator(mode="after")
    def _references(self) -> "ModbusProfile":
        expanded = expand_points(self.points)
        names: dict[str, int] = {}
        for index, point in expanded:
            if point.name in names:
                raise located(("points", index, "name"), f"duplicate point {point.name!r}")
            names[point.name] = index
        check_overlaps(expanded)
        points_by_name = {point.name: point for _, point in expanded}
        alarm_keys: set[tuple[str, int | None]] = set()
        for index, rule in enumerate(self.alarms):
            if rule.repeat is not None and "{n}" not in rule.point:
                raise located(("alarms", index, "point"), "a repeated alarm needs {n} in its point name")
            if rule.repeat is not None and rule.zone is not None:
                raise located(("alarms", index, "zone"), "a repeated alarm takes its zone from repeat")
        for index, rule in expand_alarms(self.alarms):
            key = (rule.type, rule.zone)
            if key in alarm_keys:
                zone = f" zone {rule.zone}" if rule.zone is not None else ""
                raise located(("alarms", index, "type"), f"alarm {rule.type!r}{zone} is defined twice")
            alarm_keys.add(key)
            for field, name in (("latch", rule.latch and rule.latch.point), ("only_when", rule.only_when)):
                if name and name in points_by_name and points_by_name[name].type != "bool":
                    raise located(("alarms", index, field), f"{name!r} must be a bool point")
            refs = (
                ("point", rule.point),
                ("latch", rule.latch and rule.latch.point),
                ("only_when", rule.only_when),
                ("counter", rule.counter),
            )
            for field, name in refs:
                if name and name not in names:
                    raise located(("alarms", index, field), f"unknown point {name!r}")
            if rule.counter:
                counter = points_by_name[rule.counter]
                if counter.type not in INTEGER_TYPES or counter.scale != 1:
                    raise located(("alarms", index, "counter"), f"{rule.counter!r} must be an unscaled integer point")
                if rule.debounce_s:
                    raise located(("alarms", index, "counter"), "an alarm with a counter cannot be debounced")
            target = points_by_name.get(rule.point)
            if target and target.type != "bool" and rule.when is None:
                raise located(("alarms", index, "when"), "a numeric point needs a condition")
        for index, name in enumerate(self.metrics):
            if name not in names:
                raise located(("metrics", index), f"unknown point {name!r}")
        return self
