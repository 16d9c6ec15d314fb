"""DC-09 framing, CRC, padding and reply parsing, without sockets."""

from datetime import UTC, datetime

import pytest
from Crypto.Cipher import AES

from hub.forwarding import dc09
from hub.forwarding.codes import CODES, adm_cid_data, sia_dcs_data
from hub.forwarding.errors import BadReply

AT = datetime(2026, 11, 22, 10, 58, 29, tzinfo=UTC)
KEY = b"0123456789ABCDEF"


def test_crc16_arc_check_value() -> None:
    assert dc09.crc16_arc(b"123456789") == 0xBB3D  # the catalogue check value of CRC-16/ARC


def test_plain_frame_matches_a_frame_pysiaalarm_acked() -> None:
    frame = dc09.build_frame("SIA-DCS", 1, receiver="0", line="0", account="1234", data="#1234|Nri1/PA501]", at=AT)
    assert frame == b'\nE779003C"SIA-DCS"0001R0L0#1234[#1234|Nri1/PA501]_10:58:29,11-22-2026\r'


@pytest.mark.parametrize("seq", [0, 10_000])
def test_sequence_outside_range_is_refused(seq: int) -> None:
    with pytest.raises(ValueError, match="sequence"):
        dc09.build_frame("NULL", seq, receiver="0", line="0", account="1234", data="]", at=AT)


@pytest.mark.parametrize("length", range(1, 40))
def test_padding_fills_blocks_with_a_terminator_and_never_the_reserved_bytes(length: int) -> None:
    clear = b"x" * length
    block = AES.new(KEY, AES.MODE_CBC, iv=bytes(16)).decrypt(bytes.fromhex(dc09.encrypt(KEY, clear)))
    pad, _, rest = block.partition(b"|")
    assert rest == clear and len(block) % 16 == 0
    assert 1 <= len(pad) <= 16 and not set(pad) & set(b"|[]")
    if (length + 1) % 16 == 0:  # already aligned: a full block of padding
        assert len(pad) == 16


def test_pad_bytes_differ_between_messages() -> None:
    assert dc09.encrypt(KEY, b"same") != dc09.encrypt(KEY, b"same")


def test_encrypted_frame_carries_star_token_and_hex() -> None:
    frame = dc09.build_frame(
        "ADM-CID", 7, receiver="0", line="0", account="AAA1", data="#AAA1|1120 01 005]", at=AT, key=KEY
    )
    body = frame[9:-1]
    assert body.startswith(b'"*ADM-CID"0007R0L0#AAA1[')
    assert int(frame[1:5], 16) == dc09.crc16_arc(body) and int(frame[5:9], 16) == len(body)
    clear = dc09.decrypt(KEY, body.split(b"[", 1)[1].decode())
    assert clear.endswith(b"|#AAA1|1120 01 005]_10:58:29,11-22-2026")


def _reply(body: str) -> bytes:
    raw = body.encode()
    return b"\n" + f"{dc09.crc16_arc(raw):04X}{len(raw):04X}".encode() + raw + b"\r"


@pytest.mark.parametrize(
    ("frame", "token", "seq", "at"),
    [
        (_reply('"ACK"0001R0L0#1234[]'), "ACK", 1, None),
        (_reply('"ACK"0001NoneL0#1234[]'), "ACK", 1, None),  # pysiaalarm issue #88: no R field
        (_reply('"NAK"0000R0L0A0[]_10:58:29,11-22-2026'), "NAK", 0, AT),
        (_reply('"NAK"0000L0R0A0[]_10:58:29,11-22-2026'), "NAK", 0, AT),  # L/R swapped
        (_reply('"DUH"0010R0L0#1234[]'), "DUH", 10, None),
        (b'"NAK"', "NAK", 0, None),  # unframed, for an unknown account
    ],
)
def test_replies_including_pysiaalarm_deviations(frame: bytes, token: str, seq: int, at: datetime | None) -> None:
    reply = dc09.parse_reply(frame, None)
    assert (reply.kind, reply.seq, reply.at) == (token, seq, at)


def test_encrypted_ack_with_zero_padding_and_no_terminator() -> None:
    clear = b"]_10:58:29,11-22-2026".rjust(32, b"0")  # pysiaalarm's *ACK: '0' padding, no '|'
    enc = AES.new(KEY, AES.MODE_CBC, iv=bytes(16)).encrypt(clear).hex().upper()
    reply = dc09.parse_reply(_reply(f'"*ACK"0004R0L0#AAA1[{enc}'), KEY)
    assert (reply.kind, reply.seq, reply.encrypted, reply.at) == ("ACK", 4, True, AT)


@pytest.mark.parametrize("frame", [b"\n\r", b'\nFFFF0014"ACK"0001R0L0#1234[]\r', b"\ngarbage\r"])
def test_bad_replies(frame: bytes) -> None:
    with pytest.raises(BadReply):
        dc09.parse_reply(frame, None)


def test_take_frame_waits_for_the_end() -> None:
    assert dc09.take_frame(b'\nDBE70014"ACK"00') == (None, b'\nDBE70014"ACK"00')
    assert dc09.take_frame(b"\nX\r\nY") == (b"\nX\r", b"\nY")
    assert dc09.take_frame(b'"NAK"') == (b'"NAK"', b"")


def test_data_blocks() -> None:
    panic = CODES["panic"]
    assert adm_cid_data("1234", panic, restore=False, area=1, zone=5) == "#1234|1120 01 005]"
    assert adm_cid_data("1234", panic, restore=True, area=12, zone=999) == "#1234|3120 12 999]"
    assert sia_dcs_data("1234", panic, restore=False, area=1, zone=5) == "#1234|Nri1/PA005]"
    assert sia_dcs_data("1234", panic, restore=True, area=2, zone=5) == "#1234|Nri2/PH005]"
