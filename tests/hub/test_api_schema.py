"""The hub's API against its own OpenAPI document: no 5xx and no undocumented status code (schemathesis).

Bounded and reproducible: a fixed number of examples per operation, derandomized (hypothesis over
schemathesis's strategies; its pytest plugin does not run on pytest 9). Every operation runs
against a freshly seeded hub, as the city-wide admin (every school in scope). /healthz may answer
503 by design (this hub has no broker): it is checked for documented codes only.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.hub.test_auth import Hub, make_hub

STREAM = "GET /api/v1/stream"


def _operations() -> list[str]:
    """Every operation of the OpenAPI document, as schemathesis labels them (``GET /api/v1/alarms``)."""
    with tempfile.TemporaryDirectory() as tmp:
        hub = make_hub(f"sqlite:///{tmp}/hub.db", accounts=[])
        try:
            paths = hub.app.openapi()["paths"]
        finally:
            hub.svc.sessions.kw["bind"].dispose()
    found = sorted(f"{method.upper()} {path}" for path, methods in paths.items() for method in methods)
    return [label for label in found if label != STREAM]  # an event stream never ends: see the test below


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One seeded hub for the operations that cannot take the admin's own access away."""
    hub = make_hub(f"sqlite:///{tmp_path_factory.mktemp('api') / 'hub.db'}", accounts=["admin"])
    yield hub
    hub.svc.sessions.kw["bind"].dispose()


@pytest.mark.parametrize("label", _operations())
def test_every_operation_answers_only_what_it_documents(label: str, shared: Hub, tmp_path: Path) -> None:
    # DELETE and PATCH may revoke the admin's token or disable accounts: a hub of their own.
    own = label.split(maxsplit=1)[0] in ("DELETE", "PATCH")
    hub = make_hub(f"sqlite:///{tmp_path / 'hub.db'}", accounts=["admin"]) if own else shared
    checks = [status_code_conformance] if label == "GET /healthz" else [not_a_server_error, status_code_conformance]
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", hub.app)
        [operation] = [op.ok() for op in schema.get_all_operations() if op.ok().label == label]

        @settings(max_examples=10, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            case = data.draw(operation.as_strategy())
            case.call_and_validate(headers=hub.bearer("admin"), checks=checks)

        check()
    finally:
        if own:
            hub.svc.sessions.kw["bind"].dispose()


@pytest.mark.parametrize("last_event_id", [str(2**63), "-1", "1e3", "x" * 100])
async def test_the_stream_refuses_a_last_event_id_out_of_range(shared: Hub, last_event_id: str) -> None:
    client = shared.client()
    headers = {**shared.bearer("admin"), "Last-Event-ID": last_event_id}
    assert (await client.get("/api/v1/stream", headers=headers)).status_code == 422
