"""A fake ONVIF camera: SOAP 1.2 over HTTP on aiohttp, enough of Profile S, T-events and G for health checks.

It answers by the first element of the SOAP body, whatever the path, as many real cameras do; only
the PullPoint subscription address carries state (its id). Every operation but
GetSystemDateAndTime needs a WS-Security UsernameToken (digest or text); a bad one gets the
``ter:NotAuthorized`` fault with HTTP 401. The camera's clock runs ``clock_skew_s`` ahead of ours,
and a token whose ``Created`` is further than ``CREATED_WINDOW_S`` from that clock is refused, as
Hikvision and Dahua firmware do, so a client that does not compensate for skew fails here too.

The module only adds routes: the caller's app decides where it listens (tests bind 127.0.0.1).
"""

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

CREATED_WINDOW_S = 60.0
PULL_WAIT_CAP_S = 1.0
DEFAULT_SUBSCRIPTION_S = 60.0
MAX_SUBSCRIPTIONS = 16

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "ter": "http://www.onvif.org/ver10/error",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "tns1": "http://www.onvif.org/ver10/topics",
}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_NS_DECL = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in NS.items())
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"

# event name -> (topic, data item); the items real cameras send for these topics.
EVENT_TOPICS: dict[str, tuple[str, str]] = {
    "tamper": ("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper"),
    "motion": ("tns1:VideoSource/MotionAlarm", "State"),
    "signal_loss": ("tns1:VideoSource/SignalLoss", "State"),
}
SERVICE_PATHS = {
    "device": ("tds", "/onvif/device_service"),
    "media": ("trt", "/onvif/media_service"),
    "events": ("tev", "/onvif/events_service"),
    "search": ("tse", "/onvif/search_service"),
}


class SoapFault(Exception):
    """An operation's failure, answered as a SOAP 1.2 fault."""

    def __init__(self, status: int, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.reason = reason


def not_authorized() -> SoapFault:
    """The fault real cameras send for missing or wrong credentials."""
    return SoapFault(401, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")


@dataclass
class _Subscription:
    expires_at: float  # time.monotonic()
    queue: list[str] = field(default_factory=list)  # serialised wsnt:NotificationMessage elements
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, message: str) -> None:
        self.queue.append(message)
        self.wakeup.set()


@dataclass
class OnvifState:
    """What the fake camera reports; the simulator's control interface changes it at run time."""

    manufacturer: str = "CampusGuard-Sim"
    model: str = "SIM-CAM"
    firmware: str = "1.0.0"
    serial: str = "SIM0001"
    username: str = "admin"
    password: str = "admin123"  # noqa: S105 - the fake camera's factory default
    clock_skew_s: float = 0.0
    main_uri: str = ""
    sub_uri: str = ""
    snapshot_uri: str = ""
    main: tuple[int, int, float, int] = (1920, 1080, 25.0, 4096)  # width, height, fps, kbps
    sub: tuple[int, int, float, int] = (640, 360, 10.0, 512)
    retention_days: float | None = 30.0  # None: no search service (no Profile G)
    # Assigning these (or set_event) queues a notification on every open PullPoint subscription.
    tamper: bool = False
    motion: bool = False
    signal_loss: bool = False
    subscriptions: dict[str, _Subscription] = field(default_factory=dict, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        # "subscriptions" is the last field, so the dataclass __init__ queues nothing.
        if name in EVENT_TOPICS and "subscriptions" in self.__dict__:
            message = self.notification(name, "Changed")
            for subscription in self.subscriptions.values():
                subscription.push(message)

    def set_event(self, name: str, value: bool) -> None:
        """Set an event state and queue its PullPoint notification."""
        if name not in EVENT_TOPICS:
            raise ValueError(f"unknown event {name!r}; known: {', '.join(EVENT_TOPICS)}")
        setattr(self, name, value)

    def now(self) -> dt.datetime:
        """The camera's clock: ours plus the skew."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_skew_s)

    def notification(self, name: str, operation: str) -> str:
        """One wsnt:NotificationMessage with the current state of an event."""
        topic, item = EVENT_TOPICS[name]
        value = "true" if getattr(self, name) else "false"
        return (
            f'<wsnt:NotificationMessage><wsnt:Topic Dialect="{CONCRETE_SET}">{topic}</wsnt:Topic>'
            f'<wsnt:Message><tt:Message UtcTime="{_xml_time(self.now())}" PropertyOperation="{operation}">'
            '<tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vsc"/></tt:Source>'
            f'<tt:Data><tt:SimpleItem Name="{item}" Value="{value}"/></tt:Data>'
            "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        )

    def initial_notifications(self) -> list[str]:
        """Every event's current state, as sent on subscribe and SetSynchronizationPoint."""
        return [self.notification(name, "Initialized") for name in EVENT_TOPICS]


@dataclass(frozen=True)
class _Request:
    state: OnvifState
    body: ET.Element  # the operation element
    base: str  # http://host:port the request came to
    subscription_id: str | None


Operation = Callable[[_Request], Awaitable[str]]


def add_onvif_routes(app: web.Application, state: OnvifState) -> None:
    """Serve the fake camera's ONVIF services under /onvif/ on the caller's app."""

    async def handle(request: web.Request) -> web.Response:
        return await _handle(request, state)

    for _prefix, path in SERVICE_PATHS.values():
        app.router.add_post(path, handle)
    app.router.add_post("/onvif/pullpoint/{subscription_id}", handle)


async def _handle(request: web.Request, state: OnvifState) -> web.Response:
    try:
        envelope = ET.fromstring(await request.read())  # noqa: S314 - a loopback test device; no entities expanded
    except ET.ParseError:
        return _fault_response(SoapFault(400, "env:Sender", "ter:WellFormed", "Malformed SOAP request"))
    body = envelope.find("{*}Body")
    operation = body[0] if body is not None and len(body) else None
    if operation is None:
        return _fault_response(SoapFault(400, "env:Sender", "ter:WellFormed", "Empty SOAP body"))
    name = _local(operation.tag)
    try:
        if name != "GetSystemDateAndTime":
            _authenticate(envelope, state)
        handler = OPERATIONS.get(name)
        if handler is None:
            raise SoapFault(500, "env:Receiver", "ter:ActionNotSupported", f"Optional Action {name} not implemented")
        base = f"{request.scheme}://{request.host}"
        payload = await handler(_Request(state, operation, base, request.match_info.get("subscription_id")))
    except SoapFault as fault:
        return _fault_response(fault)
    return web.Response(text=_envelope(payload), content_type="application/soap+xml", charset="utf-8")


def _authenticate(envelope: ET.Element, state: OnvifState) -> None:
    """Check the WS-Security UsernameToken against the camera's clock and credentials."""
    token = envelope.find(f"{{*}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        raise not_authorized()
    username = token.findtext(f"{{{WSSE}}}Username") or ""
    password = token.find(f"{{{WSSE}}}Password")
    nonce_b64 = token.findtext(f"{{{WSSE}}}Nonce") or ""
    created = token.findtext(f"{{{WSU}}}Created") or ""
    if password is None or not hmac.compare_digest(username, state.username):
        raise not_authorized()
    if (password.get("Type") or "").endswith("#PasswordText"):
        expected = state.password
    else:
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
        except ValueError:
            raise not_authorized() from None
        # SHA-1 is what the WS-Security UsernameToken profile prescribes for PasswordDigest.
        digest = hashlib.sha1(nonce + created.encode() + state.password.encode())  # noqa: S324
        expected = base64.b64encode(digest.digest()).decode()
        try:
            created_at = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise not_authorized() from None
        if created_at.tzinfo is None or abs((created_at - state.now()).total_seconds()) > CREATED_WINDOW_S:
            raise not_authorized()
    if not hmac.compare_digest((password.text or "").strip(), expected):
        raise not_authorized()


# --- device service -------------------------------------------------------------------------------


async def _get_system_date_and_time(req: _Request) -> str:
    now = req.state.now()
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime>{_date_time(now)}</tt:UTCDateTime><tt:LocalDateTime>{_date_time(now)}</tt:LocalDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


async def _get_device_information(req: _Request) -> str:
    s = req.state
    return (
        f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(s.manufacturer)}</tds:Manufacturer>"
        f"<tds:Model>{escape(s.model)}</tds:Model><tds:FirmwareVersion>{escape(s.firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{escape(s.serial)}</tds:SerialNumber><tds:HardwareId>SIM-HW</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def _services(state: OnvifState) -> list[str]:
    return [name for name in SERVICE_PATHS if name != "search" or state.retention_days is not None]


async def _get_services(req: _Request) -> str:
    entries = "".join(
        f"<tds:Service><tds:Namespace>{NS[SERVICE_PATHS[name][0]]}</tds:Namespace>"
        f"<tds:XAddr>{escape(req.base + SERVICE_PATHS[name][1])}</tds:XAddr>"
        "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        for name in _services(req.state)
    )
    return f"<tds:GetServicesResponse>{entries}</tds:GetServicesResponse>"


async def _get_capabilities(req: _Request) -> str:
    # GetCapabilities has no place for the search service; only GetServices lists it.
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{escape(req.base)}/onvif/device_service</tt:XAddr></tt:Device>"
        f"<tt:Events><tt:XAddr>{escape(req.base)}/onvif/events_service</tt:XAddr>"
        "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
        "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
        "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
        "</tt:Events>"
        f"<tt:Media><tt:XAddr>{escape(req.base)}/onvif/media_service</tt:XAddr>"
        "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
        "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


# --- media service --------------------------------------------------------------------------------

PROFILE_NAMES = {"main": "mainStream", "sub": "subStream"}


def _encoder(state: OnvifState, profile: str, tag: str) -> str:
    width, height, fps, kbps = state.main if profile == "main" else state.sub
    fps_int = max(1, round(fps))  # FrameRateLimit is xs:int in Media ver10
    return (
        f'<{tag} token="vec_{profile}"><tt:Name>VideoEncoder_{profile}</tt:Name><tt:UseCount>1</tt:UseCount>'
        "<tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
        "<tt:Quality>4</tt:Quality>"
        f"<tt:RateControl><tt:FrameRateLimit>{fps_int}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>"
        f"<tt:H264><tt:GovLength>{2 * fps_int}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>"
        "<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        f"<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>"
    )


async def _get_profiles(req: _Request) -> str:
    width, height = req.state.main[:2]
    profiles = "".join(
        f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>'
        '<tt:VideoSourceConfiguration token="vsc"><tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>'
        f'<tt:SourceToken>vsrc</tt:SourceToken><tt:Bounds x="0" y="0" width="{width}" height="{height}"/>'
        "</tt:VideoSourceConfiguration>"
        f"{_encoder(req.state, token, 'tt:VideoEncoderConfiguration')}</trt:Profiles>"
        for token, name in PROFILE_NAMES.items()
    )
    return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"


async def _get_video_encoder_configurations(req: _Request) -> str:
    configurations = "".join(_encoder(req.state, token, "trt:Configurations") for token in PROFILE_NAMES)
    return f"<trt:GetVideoEncoderConfigurationsResponse>{configurations}</trt:GetVideoEncoderConfigurationsResponse>"


def _profile_token(req: _Request) -> str:
    token = (req.body.findtext("{*}ProfileToken") or "").strip()
    if token not in PROFILE_NAMES:
        raise SoapFault(400, "env:Sender", "ter:InvalidArgVal", f"No such profile {token!r}")
    return token


async def _get_stream_uri(req: _Request) -> str:
    profile = _profile_token(req)
    host = req.base.split("://", 1)[1].rsplit(":", 1)[0]
    uri = (req.state.main_uri if profile == "main" else req.state.sub_uri) or f"rtsp://{host}:554/{profile}"
    return (
        f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
    )


async def _get_snapshot_uri(req: _Request) -> str:
    _profile_token(req)
    if not req.state.snapshot_uri:
        raise SoapFault(500, "env:Receiver", "ter:ActionNotSupported", "No snapshot support")
    return (
        f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{escape(req.state.snapshot_uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
    )


# --- event service --------------------------------------------------------------------------------


async def _get_event_properties(req: _Request) -> str:
    topics = {
        "tns1:RuleEngine": "<TamperDetector><Tamper wstop:topic='true'/></TamperDetector>",
        "tns1:VideoSource": "<MotionAlarm wstop:topic='true'/><SignalLoss wstop:topic='true'/>",
    }
    topic_set = "".join(f"<{tag}>{inner}</{tag}>" for tag, inner in topics.items())
    return (
        "<tev:GetEventPropertiesResponse>"
        "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>"
        f"<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet>{topic_set}</wstop:TopicSet>"
        f"<wsnt:TopicExpressionDialect>{CONCRETE_SET}</wsnt:TopicExpressionDialect>"
        "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
        "</tev:MessageContentFilterDialect>"
        "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
        "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
    )


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _termination_s(text: str | None, state: OnvifState) -> float:
    """Seconds from now of a WS-N termination time: an xs:duration or an absolute camera time."""
    text = (text or "").strip()
    if not text:
        return DEFAULT_SUBSCRIPTION_S
    if match := _DURATION.match(text):
        days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SoapFault(400, "env:Sender", "ter:InvalidArgVal", f"Bad termination time {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - state.now()).total_seconds()


def _times(state: OnvifState, subscription: _Subscription, prefix: str) -> tuple[str, str]:
    now = state.now()
    left = subscription.expires_at - time.monotonic()
    current = f"<{prefix}:CurrentTime>{_xml_time(now)}</{prefix}:CurrentTime>"
    termination = f"<{prefix}:TerminationTime>{_xml_time(now + dt.timedelta(seconds=left))}</{prefix}:TerminationTime>"
    return current, termination


async def _create_pull_point_subscription(req: _Request) -> str:
    state = req.state
    now = time.monotonic()
    for key, old in list(state.subscriptions.items()):
        if old.expires_at <= now:
            del state.subscriptions[key]
    if len(state.subscriptions) >= MAX_SUBSCRIPTIONS:
        raise SoapFault(500, "env:Receiver", "ter:Action", "Too many subscriptions")
    duration = _termination_s(req.body.findtext("{*}InitialTerminationTime"), state)
    subscription = _Subscription(expires_at=now + max(duration, 1.0))
    for message in state.initial_notifications():  # property events start with their current value
        subscription.push(message)
    subscription_id = secrets.token_hex(8)
    state.subscriptions[subscription_id] = subscription
    current, termination = _times(state, subscription, "wsnt")
    address = f"{req.base}/onvif/pullpoint/{subscription_id}"
    return (
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
        f"<wsa:Address>{escape(address)}</wsa:Address></tev:SubscriptionReference>"
        f"{current}{termination}</tev:CreatePullPointSubscriptionResponse>"
    )


def _subscription(req: _Request) -> _Subscription:
    subscription = req.state.subscriptions.get(req.subscription_id or "")
    if subscription is None or subscription.expires_at <= time.monotonic():
        req.state.subscriptions.pop(req.subscription_id or "", None)
        raise SoapFault(400, "env:Sender", "ter:InvalidArgVal", "No such subscription")
    return subscription


async def _pull_messages(req: _Request) -> str:
    subscription = _subscription(req)
    limit = int(req.body.findtext("{*}MessageLimit") or "100")
    wait_s = min(_termination_s(req.body.findtext("{*}Timeout"), req.state), PULL_WAIT_CAP_S)
    if not subscription.queue and wait_s > 0:
        subscription.wakeup.clear()
        try:
            async with asyncio.timeout(wait_s):
                await subscription.wakeup.wait()
        except TimeoutError:
            pass
    messages, subscription.queue[:] = subscription.queue[:limit], subscription.queue[limit:]
    current, termination = _times(req.state, subscription, "tev")
    return f"<tev:PullMessagesResponse>{current}{termination}{''.join(messages)}</tev:PullMessagesResponse>"


async def _renew(req: _Request) -> str:
    subscription = _subscription(req)
    duration = _termination_s(req.body.findtext("{*}TerminationTime"), req.state)
    subscription.expires_at = time.monotonic() + max(duration, 1.0)
    current, termination = _times(req.state, subscription, "wsnt")
    return f"<wsnt:RenewResponse>{termination}{current}</wsnt:RenewResponse>"


async def _unsubscribe(req: _Request) -> str:
    _subscription(req)
    req.state.subscriptions.pop(req.subscription_id or "", None)
    return "<wsnt:UnsubscribeResponse/>"


async def _set_synchronization_point(req: _Request) -> str:
    subscription = _subscription(req)
    for message in req.state.initial_notifications():
        subscription.push(message)
    return "<tev:SetSynchronizationPointResponse/>"


# --- search service (Profile G) -------------------------------------------------------------------


async def _get_recording_summary(req: _Request) -> str:
    if req.state.retention_days is None:
        raise SoapFault(500, "env:Receiver", "ter:ActionNotSupported", "No recording search")
    until = req.state.now()
    since = until - dt.timedelta(days=req.state.retention_days)
    return (
        "<tse:GetRecordingSummaryResponse><tse:Summary>"
        f"<tt:DataFrom>{_xml_time(since)}</tt:DataFrom><tt:DataUntil>{_xml_time(until)}</tt:DataUntil>"
        "<tt:NumberRecordings>1</tt:NumberRecordings></tse:Summary></tse:GetRecordingSummaryResponse>"
    )


OPERATIONS: dict[str, Operation] = {
    "GetSystemDateAndTime": _get_system_date_and_time,
    "GetDeviceInformation": _get_device_information,
    "GetServices": _get_services,
    "GetCapabilities": _get_capabilities,
    "GetProfiles": _get_profiles,
    "GetStreamUri": _get_stream_uri,
    "GetSnapshotUri": _get_snapshot_uri,
    "GetVideoEncoderConfigurations": _get_video_encoder_configurations,
    "GetEventProperties": _get_event_properties,
    "CreatePullPointSubscription": _create_pull_point_subscription,
    "PullMessages": _pull_messages,
    "Renew": _renew,
    "Unsubscribe": _unsubscribe,
    "SetSynchronizationPoint": _set_synchronization_point,
    "GetRecordingSummary": _get_recording_summary,
}


# --- SOAP framing ---------------------------------------------------------------------------------


def _envelope(body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_NS_DECL}><env:Body>{body}</env:Body></env:Envelope>'
    )


def _fault_response(fault: SoapFault) -> web.Response:
    # The envelope declares xmlns:ter (in _NS_DECL): zeep resolves the subcode QName and fails without it.
    body = (
        f"<env:Fault><env:Code><env:Value>{fault.code}</env:Value>"
        f"<env:Subcode><env:Value>{fault.subcode}</env:Value></env:Subcode></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason></env:Fault>'
    )
    return web.Response(status=fault.status, text=_envelope(body), content_type="application/soap+xml", charset="utf-8")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_time(when: dt.datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{when.hour}</tt:Hour><tt:Minute>{when.minute}</tt:Minute>"
        f"<tt:Second>{when.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{when.year}</tt:Year><tt:Month>{when.month}</tt:Month><tt:Day>{when.day}</tt:Day></tt:Date>"
    )
