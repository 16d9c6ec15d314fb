"""The agent never imports the hub, and a Modbus-only gateway never loads camera or web libraries."""

import subprocess
import sys

import pytest

FORBIDDEN_FOR_AGENT = ("hub", "fastapi", "sqlalchemy", "uvicorn", "cv2", "onvif", "amqtt")


@pytest.mark.parametrize("module", ["agent.runtime", "agent.modbus.driver", "campusguard.cli"])
def test_agent_side_imports_stay_small(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN_FOR_AGENT!r})); "
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()}"


def test_contract_imports_neither_side() -> None:
    code = (
        "import sys, contract; print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('agent', 'hub'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
