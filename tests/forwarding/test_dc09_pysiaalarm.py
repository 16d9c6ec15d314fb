"""Our DC-09 transmitter against pysiaalarm 3.2.2, an independent receiver, over TCP.

pysiaalarm maps a Contact ID code it does not know to ``YN`` and still ACKs it, so every test
asserts the exact code (and zone, partition) the receiver reported, never just "an event arrived".
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.forwarding.codes import CODES, DOOR_HELD, adm_cid_data, sia_dcs_data
from hub.forwarding.dc09 import Dc09Link, seq_for
from hub.forwarding.errors import AckTimeout, ReceiverUnreachable, Rejected
from hub.forwarding.settings import Dc09Receiver
from tests.forwarding.receiver import KEY_128, KEY_192, KEY_256, Arc, Proxy, account, sia_receiver

pytestmark = pytest.mark.integration

ACCOUNTS = {None: "1234", KEY_128: "AAA1", KEY_192: "AAA2", KEY_256: "AAA3"}


@pytest.fixture
async def arc() -> AsyncIterator[Arc]:
    accounts = [account(acct, key) for key, acct in ACCOUNTS.items()] + [account("BBB1", None, (5, 5))]
    async with sia_receiver(accounts) as receiver:
        yield receiver


def link_to(port: int, key: str | None = None, **extra: object) -> Dc09Link:
    settings = Dc09Receiver.model_validate(
        {"host": "127.0.0.1", "port": port, "key": key, "ack_timeout_s": 2, "connect_timeout_s": 1, **extra}
    )
    return Dc09Link("arc", settings)


@pytest.mark.parametrize("fmt", ["adm-cid", "sia-dcs"])
@pytest.mark.parametrize("key", [None, KEY_128, KEY_192, KEY_256], ids=["plain", "aes128", "aes192", "aes256"])
async def test_every_mapped_kind_arrives_with_its_code_and_zone(arc: Arc, fmt: str, key: str | None) -> None:
    acct = ACCOUNTS[key]
    link = link_to(arc.port, key)
    kinds = sorted(CODES)
    try:
        for zone, kind in enumerate(kinds, start=1):
            code = CODES[kind]
            build = adm_cid_data if fmt == "adm-cid" else sia_dcs_data
            exchange = await link.send(fmt.upper(), acct, build(acct, code, restore=False, area=3, zone=zone))
            assert exchange.reply.kind == "ACK" and exchange.reply.encrypted == (key is not None)
        events = await arc.wait_for(len(kinds), 5)
    finally:
        await link.close()
    assert len(events) == len(kinds)
    for zone, (kind, event) in enumerate(zip(kinds, events, strict=True), start=1):
        code = CODES[kind]
        assert event.account == acct and event.encrypted == (key is not None)
        if fmt == "adm-cid":
            assert (event.event_qualifier, event.event_type) == ("1", f"{code.cid:03d}"), kind
            assert (event.partition, event.ri) == ("03", f"{zone:03d}"), kind
            # pysiaalarm's CID table lacks 426; it reports YN. Our SIA-DCS path sends DN.
            assert event.code == ("YN" if code is DOOR_HELD else code.sia_new), kind
        else:
            assert (event.code, event.ri, event.message) == (code.sia_new, "3", f"{zone:03d}"), kind


async def test_restores_carry_the_restore_codes(arc: Arc) -> None:
    link = link_to(arc.port, KEY_256)
    kinds = ["panic", "intrusion", "tamper", "mains_loss", "low_battery", "door_forced", "communication_trouble"]
    try:
        for kind in kinds:
            await link.send("SIA-DCS", "AAA3", sia_dcs_data("AAA3", CODES[kind], restore=True, area=1, zone=9))
        await link.send("ADM-CID", "AAA3", adm_cid_data("AAA3", CODES["panic"], restore=True, area=1, zone=9))
        events = await arc.wait_for(len(kinds) + 1, 5)
    finally:
        await link.close()
    assert [e.code for e in events] == ["PH", "BH", "TR", "AR", "YR", "DR", "YK", "PH"]
    assert events[-1].event_qualifier == "3"


async def test_null_supervision_is_acked(arc: Arc) -> None:
    for key in (None, KEY_128):
        link = link_to(arc.port, key, account=ACCOUNTS[key], null_interval_s=0.2)
        task = asyncio.create_task(link.supervise())
        try:
            await arc.wait_for(2 if key else 1, 3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await link.close()
    assert [(e.code, e.ri, e.message_type.value) for e in arc.events[:2]] == [("RP", "0", "NULL")] * 2


async def test_a_timestamp_nak_corrects_the_clock_and_the_resend_is_acked(arc: Arc) -> None:
    skew = timedelta(seconds=-120)
    settings = Dc09Receiver(host="127.0.0.1", port=arc.port, ack_timeout_s=2)
    link = Dc09Link("arc", settings, clock=lambda: datetime.now(UTC) + skew)
    try:
        exchange = await link.send(
            "ADM-CID", "BBB1", adm_cid_data("BBB1", CODES["panic"], restore=False, area=1, zone=4)
        )
        events = await arc.wait_for(1, 3)
        assert exchange.clock_corrected and abs(link.offset.total_seconds() - 120) <= 2
        assert arc.client.counts.error_timestamp == 1  # one NAK, then the corrected resend
        assert [(e.code, e.ri) for e in events] == [("PA", "004")]
        # The correction sticks: the next message goes through first time.
        again = await link.send("ADM-CID", "BBB1", adm_cid_data("BBB1", CODES["tamper"], restore=False, area=1, zone=4))
        assert not again.clock_corrected and arc.client.counts.error_timestamp == 1
    finally:
        await link.close()


async def test_refusals_are_translated(arc: Arc) -> None:
    link = link_to(arc.port)
    try:
        with pytest.raises(Rejected) as duh:
            await link.send("SIA-DCS", "1234", "#1234|Nri1/QC001]")  # not a SIA code
        assert duh.value.result == "duh"
        with pytest.raises(Rejected) as nak:
            await link.send("ADM-CID", "9999", adm_cid_data("9999", CODES["panic"], restore=False, area=1, zone=1))
        assert nak.value.result == "nak"  # pysiaalarm's bare, unframed "NAK"
        ok = await link.send("ADM-CID", "1234", adm_cid_data("1234", CODES["panic"], restore=False, area=1, zone=1), 17)
        assert ok.seq == 17  # an alarm's own number, whatever the connection did before
    finally:
        await link.close()
    assert [e.code for e in await arc.wait_for(1, 3)] == ["PA"]


async def test_link_tests_number_9001_to_9999_and_alarms_keep_theirs(arc: Arc) -> None:
    # Alarms take 1..9000 from their outbox row, on every attempt and after any reconnect; link
    # tests cycle above, so a NULL never reuses a number a recent alarm had.
    link = link_to(arc.port)
    try:
        first = await link.send("NULL", "1234", "]")
        link._seq = 998
        seqs = [(await link.send("NULL", "1234", "]")).seq for _ in range(3)]
        await link.close()  # a new connection keeps the count going
        after = (await link.send("NULL", "1234", "]")).seq
    finally:
        await link.close()
    assert first.seq == 9001 and seqs == [9999, 9001, 9002] and after == 9003
    assert [seq_for(n) for n in (1, 2, 9000, 9001, 18_001)] == [1, 2, 9000, 1, 1]


async def test_trouble_when_the_receiver_stops_answering_and_restore(arc: Arc) -> None:
    proxy = await Proxy(arc.port).start()
    calls: list[tuple[bool, str]] = []

    async def on_trouble(name: str, active: bool, detail: str) -> None:
        calls.append((active, detail))

    settings = Dc09Receiver(
        host="127.0.0.1", port=proxy.port, account="1234", ack_timeout_s=0.5, trouble_after_failures=2
    )
    link = Dc09Link("arc-1", settings, on_trouble=on_trouble)
    try:
        await link.send_null()
        await proxy.down()
        for _ in range(2):
            with pytest.raises(ReceiverUnreachable):
                await link.send_null()
        assert [a for a, _ in calls] == [True]
        proxy.mode = "hold"  # accepts, never answers
        await proxy.up()
        proxy.mode = "hold"
        with pytest.raises(AckTimeout):
            await link.send_null()
        proxy.mode = "up"
        await link.send_null()
        assert [a for a, _ in calls] == [True, False]
    finally:
        await link.close()
        await proxy.stop()
