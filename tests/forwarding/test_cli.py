"""``campusguard forward test --school ID`` end to end against pysiaalarm."""

import asyncio
import sys
from pathlib import Path

import pytest
import yaml

from tests.forwarding.receiver import KEY_128, Proxy, account, sia_receiver

pytestmark = pytest.mark.integration


async def run_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campusguard.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_periodic_test_round_trip_and_failover(tmp_path: Path) -> None:
    async with sia_receiver([account("AAA1", KEY_128)]) as backup, sia_receiver([account("AAA1", KEY_128)]) as primary:
        proxy = await Proxy(primary.port).start()
        dc09 = {"type": "dc09", "host": "127.0.0.1", "key": KEY_128, "account": "AAA1", "ack_timeout_s": 1}
        config = tmp_path / "hub.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "forwarding": {
                        "receivers": {"arc-1": {**dc09, "port": proxy.port}, "arc-2": {**dc09, "port": backup.port}},
                        "routes": [{"name": "police", "primary": "arc-1", "backup": "arc-2"}],
                        "schools": {"school-a": {"account": "AAA1", "area": 2}},
                    }
                }
            )
        )
        try:
            code, out = await run_cli("forward", "test", "--school", "school-a", "--config", str(config))
            assert code == 0, out
            assert "route police: arc-1 (DC-09 ADM-CID AES-128" in out and "ACK seq 9001 in" in out
            [event] = await primary.wait_for(1, 5)
            assert (event.code, event.event_type, event.partition, event.ri) == ("RP", "602", "02", "000")

            await proxy.down()
            code, out = await run_cli("forward", "test", "--school", "school-a", "--config", str(config))
            assert code == 0 and "arc-1" in out and "FAILED unreachable" in out and "arc-2" in out, out
            assert [e.code for e in await backup.wait_for(1, 5)] == ["RP"]

            code, out = await run_cli("forward", "test", "--school", "school-x", "--config", str(config))
            assert code == 1 and "no account" in out
        finally:
            await proxy.stop()
