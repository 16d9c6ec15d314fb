"""X-Forwarded-For is believed only from configured proxies (a real uvicorn, a real login limit)."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.auth.models import AuditEvent
from tests.hub.support import hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("trusted", "seen"), [((), "127.0.0.1"), (("127.0.0.1",), "203.0.113.9")])
async def test_the_address_a_login_is_counted_against(
    mosquitto: Mosquitto, tmp_path: Path, trusted: tuple[str, ...], seen: str
) -> None:
    settings = hub_settings(
        mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(), api={"trusted_proxies": list(trusted)}
    )
    async with running_hub(settings) as hub:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api.port}") as client:
            response = await client.post(
                "/api/v1/auth/login",
                json={"username": "nobody", "password": "wrong-wrong"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
        assert response.status_code == 401
        with hub.services.sessions() as db:
            [address] = db.scalars(select(AuditEvent.client_ip).where(AuditEvent.target == "nobody")).all()
        assert address == seen  # untrusted: a caller cannot pick the address its failures count against
