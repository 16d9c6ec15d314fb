"""SIA DC-09 transmitter: framing, CRC-16/ARC, AES-CBC with the standard's padding, replies, one link.

A frame is ``LF crc 0LLL "id" seq Rrcvr Lpref #acct [data] _HH:MM:SS,MM-DD-YYYY CR``; the CRC
(CRC-16/ARC) and the length cover everything from the first ``"`` to the timestamp. Encrypted
frames (``"*ADM-CID"``) carry, in uppercase hex after ``[``, AES-CBC with a zero IV over
``pad | data timestamp``: random pad bytes (never ``|``, ``[``, ``]``) so the whole is a multiple
of 16, a full extra block when it already is, and always the ``|`` terminator.

Receivers deviate (pysiaalarm 3.2.2, issue #88): ``*ACK`` padded with ``0`` and no ``|``, ``None``
in place of a missing R field, a bare unframed ``"NAK"`` for an unknown account, ``L0R0`` order in
format-error NAKs, an empty ``\\n\\r`` frame on a CRC error. The parser accepts all of them. Its TCP
server treats one read as one message, so the link never pipelines: one message in flight.
"""

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from Crypto.Cipher import AES

from hub.forwarding.errors import AckTimeout, BadReply, DeliveryError, ReceiverUnreachable, Rejected
from hub.forwarding.settings import Dc09Receiver

log = logging.getLogger(__name__)

SEQ_MAX = 9999
# Sequence numbers identify a message to the receiver across resends, reconnects and hub restarts:
# an alarm's is derived from its outbox row (1..9000, cycling), link tests cycle through 9001..9999,
# so a NULL never reuses a number a recent alarm had (a receiver would take the alarm for a repeat).
DATA_SEQ_MAX = 9000


def seq_for(outbox_id: int) -> int:
    """The DC-09 sequence number of an outbox row: the same on every attempt, by every hub."""
    return (outbox_id - 1) % DATA_SEQ_MAX + 1


def occurred(at: datetime) -> str:
    """The ``[H…]`` extended data block: when the event happened (UTC), the same on every resend."""
    return f"[H{timestamp(at)[1:]}]"


_FORBIDDEN_PAD = frozenset(b"|[]")
_PAD_ALPHABET = bytes(b for b in range(256) if b not in _FORBIDDEN_PAD)
_TS = re.compile(r"_(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4})")
_BODY = re.compile(r'^"(\*?)(ACK|NAK|DUH|RSP)"(\d{4})([^\[]*)\[(.*)$', re.S)
_BARE = re.compile(rb'^\s*"(ACK|NAK|DUH)"\s*$')


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0), as DC-09 uses it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def timestamp(at: datetime) -> str:
    """The DC-09 timestamp ``_HH:MM:SS,MM-DD-YYYY`` in UTC."""
    return at.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def parse_timestamp(text: str) -> datetime | None:
    """The first DC-09 timestamp in ``text`` as aware UTC, or None."""
    m = _TS.search(text)
    if m is None:
        return None
    hh, mi, ss, mo, dd, yy = (int(g) for g in m.groups())
    try:
        return datetime(yy, mo, dd, hh, mi, ss, tzinfo=UTC)
    except ValueError:
        return None


def random_pad(length: int, randbelow: Callable[[int], int] = secrets.randbelow) -> bytes:
    """``length`` random pad bytes, none of them ``|``, ``[`` or ``]``."""
    return bytes(_PAD_ALPHABET[randbelow(len(_PAD_ALPHABET))] for _ in range(length))


def encrypt(key: bytes, clear: bytes, randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """``pad | clear`` AES-CBC (zero IV) encrypted, as uppercase hex; a full pad block when aligned."""
    pad_length = (16 - (len(clear) + 1) % 16) % 16 or 16
    block = random_pad(pad_length, randbelow) + b"|" + clear
    return AES.new(key, AES.MODE_CBC, iv=bytes(16)).encrypt(block).hex().upper()


def decrypt(key: bytes, hex_text: str) -> bytes:
    """Decrypt an AES-CBC (zero IV) hex block; raise BadReply when it is not one."""
    try:
        raw = bytes.fromhex(hex_text)
    except ValueError:
        raise BadReply(f"not hex: {hex_text[:40]!r}") from None
    if not raw or len(raw) % 16:
        raise BadReply(f"encrypted block of {len(raw)} bytes")
    return AES.new(key, AES.MODE_CBC, iv=bytes(16)).decrypt(raw)


def build_frame(
    token: str,
    seq: int,
    *,
    receiver: str,
    line: str,
    account: str,
    data: str,
    at: datetime,
    key: bytes | None = None,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> bytes:
    """One DC-09 frame. ``data`` is the bracketed block without ``[`` (e.g. ``#1234|1120 01 005]``)."""
    if not 1 <= seq <= SEQ_MAX:
        raise ValueError(f"sequence {seq} outside 1..{SEQ_MAX}")
    ts = timestamp(at)
    head = f"{seq:04d}R{receiver}L{line}#{account}["
    if key is None:
        body = f'"{token}"{head}{data}{ts}'
    else:
        body = f'"*{token}"{head}{encrypt(key, (data + ts).encode("ascii"), randbelow)}'
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode("ascii") + raw + b"\r"


@dataclass(frozen=True, slots=True)
class Reply:
    """A receiver's answer."""

    kind: str  # ACK, NAK, DUH, RSP
    seq: int
    encrypted: bool = False
    account: str | None = None
    at: datetime | None = None  # the receiver's clock, when it sent one
    raw: bytes = b""


def take_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Split one reply off a receive buffer: a ``LF..CR`` frame, or a bare ``"NAK"``; else wait for more."""
    end = buffer.find(b"\r")
    if end >= 0:
        return buffer[: end + 1], buffer[end + 1 :]
    if _BARE.match(buffer):  # pysiaalarm: unframed "NAK" for an account it does not know
        return buffer, b""
    return None, buffer


def parse_reply(frame: bytes, key: bytes | None) -> Reply:
    """Parse one reply frame; raise BadReply when it is unusable."""
    bare = _BARE.match(frame)
    if bare:
        return Reply(bare.group(1).decode(), 0, raw=frame)
    text = frame.strip(b"\n\r").decode("ascii", errors="replace")
    if not text:
        raise BadReply("empty reply frame (the receiver saw a CRC error)")
    if len(text) < 9 or not re.fullmatch(r"[0-9A-Fa-f]{8}", text[:8]):
        raise BadReply(f"no CRC/length header: {text[:40]!r}")
    body = text[8:]
    if int(text[:4], 16) != crc16_arc(body.encode("ascii", errors="replace")):
        raise BadReply(f"reply CRC mismatch: {text[:40]!r}")
    m = _BODY.match(body)
    if m is None:
        raise BadReply(f"unknown reply: {body[:40]!r}")
    star, token, seq, header, rest = m.groups()
    account_m = re.search(r"#([0-9A-Fa-f]+)", header)
    account = account_m.group(1) if account_m else None
    if star and key is not None:
        hex_part = re.match(r"[0-9A-Fa-f]*", rest)
        clear = decrypt(key, hex_part.group(0) if hex_part else "").decode("ascii", errors="replace")
        at = parse_timestamp(clear)
    else:
        at = parse_timestamp(rest)
    return Reply(token, int(seq), bool(star), account, at, frame)


@dataclass(frozen=True, slots=True)
class Exchange:
    """A message the receiver acknowledged."""

    seq: int
    rtt_s: float
    reply: Reply
    clock_corrected: bool = False


Opener = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
TroubleHook = Callable[[str, bool, str], Awaitable[None]]


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


class Dc09Link:
    """One TCP connection to one receiver: a message at a time, NULL supervision, clock correction.

    ``on_trouble(name, active, detail)`` is called when ``trouble_after_failures`` exchanges in a
    row failed, and again (active False) at the first ACK after that.
    """

    def __init__(
        self,
        name: str,
        settings: Dc09Receiver,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        opener: Opener = _open,
        on_trouble: TroubleHook | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.key = settings.key_bytes()
        self.clock = clock
        self.opener = opener
        self.on_trouble = on_trouble
        self.offset = timedelta(0)  # receiver clock minus ours, learnt from NAKs
        self.failures = 0
        self.in_trouble = False
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._seq = 0
        self._buffer = b""
        self._last_activity = time.monotonic()

    def now(self) -> datetime:
        """Our clock, corrected by what the receiver's NAKs told us."""
        return self.clock() + self.offset

    def _next_seq(self) -> int:
        """The next link-test sequence number: 9001..9999, then 9001 again."""
        self._seq = self._seq % (SEQ_MAX - DATA_SEQ_MAX) + 1
        return DATA_SEQ_MAX + self._seq

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None and not self._writer.is_closing():
            return self._reader, self._writer
        await self._drop()
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                self._reader, self._writer = await self.opener(self.settings.host, self.settings.port)
        except (OSError, TimeoutError) as exc:
            raise ReceiverUnreachable(f"{self.name}: {exc or type(exc).__name__}") from None
        self._buffer = b""
        return self._reader, self._writer

    async def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            await self._drop()

    async def send(self, token: str, account: str, data: str, seq: int | None = None) -> Exchange:
        """Send one message (with its own ``seq``, or the next link-test one) and wait for its ACK."""
        async with self._lock:
            try:
                exchange = await self._exchange(token, account, data, seq)
            except DeliveryError as exc:
                await self._drop()  # a late answer must not be taken for the next message's
                self._last_activity = time.monotonic()
                await self._failed(str(exc))
                raise
            self._last_activity = time.monotonic()
            await self._succeeded()
            return exchange

    async def send_null(self, account: str | None = None) -> Exchange:
        """A NULL (link test) message."""
        return await self.send("NULL", account or self.settings.account, "]")

    async def _exchange(self, token: str, account: str, data: str, seq: int | None) -> Exchange:
        reader, writer = await self._connect()
        seq = seq or self._next_seq()
        corrected = False
        while True:
            frame = build_frame(
                token,
                seq,
                receiver=self.settings.receiver,
                line=self.settings.line,
                account=account,
                data=data,
                at=self.now(),
                key=self.key,
            )
            started = time.monotonic()
            try:
                writer.write(frame)
                await writer.drain()
                reply = await self._await_reply(reader, seq)
            except (OSError, EOFError) as exc:
                raise ReceiverUnreachable(f"{self.name}: {exc or type(exc).__name__}") from None
            rtt = time.monotonic() - started
            if reply.kind == "ACK":
                return Exchange(seq, rtt, reply, corrected)
            if reply.kind == "NAK" and reply.at is not None and not corrected and self._correct_clock(reply.at):
                corrected = True
                continue  # resend the same message (same sequence number) with the corrected time
            result = "nak" if reply.kind == "NAK" else "duh" if reply.kind == "DUH" else "rejected"
            raise Rejected(f"{self.name}: {reply.raw!r}", result=result)

    def _correct_clock(self, receiver_at: datetime) -> bool:
        """Learn the receiver's clock from a NAK; True when it differs enough to explain the NAK."""
        offset = receiver_at - self.clock()
        if abs((offset - self.offset).total_seconds()) < 2:
            return False  # our time was right (±1 s of timestamp resolution): a NAK for another reason
        log.warning("%s: receiver clock is %+.0f s from ours; correcting", self.name, offset.total_seconds())
        self.offset = offset
        return True

    async def _await_reply(self, reader: asyncio.StreamReader, seq: int) -> Reply:
        try:
            async with asyncio.timeout(self.settings.ack_timeout_s):
                while True:
                    frame, self._buffer = take_frame(self._buffer)
                    if frame is None:
                        chunk = await reader.read(1024)
                        if not chunk:
                            raise EOFError("receiver closed the connection")
                        self._buffer += chunk
                        continue
                    reply = parse_reply(frame, self.key)
                    if reply.kind == "NAK" or reply.seq == seq:
                        return reply
                    log.info("%s: ignoring a reply for sequence %04d (waiting for %04d)", self.name, reply.seq, seq)
        except TimeoutError:
            raise AckTimeout(f"{self.name}: no answer within {self.settings.ack_timeout_s} s") from None

    async def _failed(self, detail: str) -> None:
        self.failures += 1
        if not self.in_trouble and self.failures >= self.settings.trouble_after_failures:
            self.in_trouble = True
            log.error("%s: communication trouble: %s", self.name, detail)
            if self.on_trouble is not None:
                await self.on_trouble(self.name, True, detail)

    async def _succeeded(self) -> None:
        self.failures = 0
        if self.in_trouble:
            self.in_trouble = False
            log.warning("%s: communication restored", self.name)
            if self.on_trouble is not None:
                await self.on_trouble(self.name, False, "restored")

    async def supervise(self) -> None:
        """Send a NULL whenever the link was idle for ``null_interval_s``; forever."""
        interval = self.settings.null_interval_s
        while True:
            idle = time.monotonic() - self._last_activity
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                await self.send_null()
            except DeliveryError as exc:
                log.info("%s: NULL supervision failed: %s", self.name, exc)
