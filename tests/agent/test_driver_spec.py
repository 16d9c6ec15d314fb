"""A protocol added from outside the agent's code: one DriverSpec, one register() line.

The driver below lives only in this test. It is registered through the same public path as the
bundled drivers (``agent.drivers.spec.register``, docs/adding-a-protocol.md); its profile file
is validated by its own model inside the discriminated union of profile files; a device with its
address scheme is polled by the real scheduler, and its metric reaches the hub's snapshot topic.
"""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import aiomqtt
import pytest
from pydantic import Field, ValidationError

from agent.config import AgentConfig
from agent.drivers.base import DriverContext
from agent.drivers.spec import DriverSpec, register, unregister
from agent.errors import ProfileError
from agent.profiles import AlarmRule, LoadedProfile, Name, Strict, load_profile
from agent.registers import Value
from contract import MessageType, TopicTree
from tests.agent.harness import running_agent, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


class CounterProfile(Strict):
    """The profile of a make-believe counting device."""

    schema_version: Literal[1]
    kind: Literal["counter"]
    vendor: str
    model: str
    driver: Literal["counter"]
    step: int = Field(default=1, ge=1, le=100)
    alarms: list[AlarmRule] = Field(default_factory=list)
    metrics: list[Name] = Field(default_factory=list)


class CounterDriver:
    """Counts up by the profile's step on every poll."""

    requests_per_poll = 1
    schedule_group = None
    turn = None

    def __init__(self, step: int) -> None:
        self.step, self.count = step, 0

    async def connect(self) -> None:
        return None

    async def poll(self) -> dict[str, Value]:
        self.count += self.step
        return {"count": self.count}

    async def close(self) -> None:
        return None


def create(device: Any, profile: LoadedProfile, context: DriverContext, timeout_s: float) -> CounterDriver:
    """The factory the spec names."""
    return CounterDriver(profile.as_type(CounterProfile).step)


def check_address(address: str) -> None:
    if not address.startswith("counter://"):
        raise ValueError(f"{address!r} is not a counter address")


SPEC = DriverSpec("counter", CounterProfile, ("counter",), check_address, "tests.agent.test_driver_spec:create")


@pytest.fixture
def counter_driver() -> Iterator[None]:
    register(SPEC)  # the one line a new protocol takes
    try:
        yield
    finally:
        unregister("counter")


PROFILE = {"schema_version": 1, "kind": "counter", "vendor": "test", "model": "counter", "driver": "counter"}


def write_profile(directory: Path, **fields: Any) -> Path:
    path = directory / "counter" / "test-counter.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**PROFILE, **fields}))
    return path


def test_its_profile_is_validated_by_its_own_model(tmp_path: Path, counter_driver: None) -> None:
    loaded = load_profile(write_profile(tmp_path, step=3, metrics=["count"]))
    assert loaded.as_type(CounterProfile).step == 3
    with pytest.raises(ProfileError, match="step"):
        load_profile(write_profile(tmp_path, step=0))


def test_its_settings_and_addresses_are_its_own(tmp_path: Path, counter_driver: None) -> None:
    base = {"school_id": "s", "gateway_id": "g"}
    device = {"id": "c-1", "profile": "counter/test-counter", "address": "counter://local"}
    AgentConfig.model_validate({**base, "devices": [device]})
    with pytest.raises(ValidationError, match="username is a setting of camera devices, not of counter devices"):
        AgentConfig.model_validate({**base, "devices": [{**device, "username": "admin"}]})
    with pytest.raises(ValidationError, match="counter://"):
        AgentConfig.model_validate({**base, "devices": [{**device, "address": "ftp://x"}]})


def test_without_registration_the_agent_does_not_know_it(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="counter"):
        load_profile(write_profile(tmp_path))


async def test_a_registered_driver_is_polled_by_the_real_scheduler(
    mosquitto: Mosquitto, tmp_path: Path, counter_driver: None
) -> None:
    write_profile(tmp_path / "profiles", step=2, metrics=["count"])
    prefix = unique_prefix()
    config = AgentConfig.model_validate(
        {
            "school_id": "school-t",
            "gateway_id": "gw-t",
            "mqtt": {"url": mosquitto.url, "topic_prefix": prefix},
            "spool": {"path": str(tmp_path / "spool.db")},
            "snapshot_interval_s": 0.5,
            "profile_dirs": [str(tmp_path / "profiles")],
            "devices": [
                {"id": "c-1", "profile": "counter/test-counter", "address": "counter://local", "interval_s": 0.05}
            ],
        }
    )
    topic = TopicTree(prefix).topic("school-t", "gw-t", MessageType.STATUS)
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as watcher:
        await watcher.subscribe(topic, qos=1)
        async with running_agent(config) as agent:
            async with asyncio.timeout(10):
                async for message in watcher.messages:
                    snapshot = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                    [device] = snapshot["devices"]
                    if device["availability"] == "online" and device["metrics"].get("count", 0) >= 10:
                        break
            assert agent.devices["c-1"].values["count"] % 2 == 0  # its own profile's step
