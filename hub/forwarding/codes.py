"""Our alarm kinds as Contact ID event codes and SIA (DC-03) codes, for DC-09 forwarding.

The table is ours, not a receiver's: pysiaalarm's CID→SIA mapping is incomplete (it turns unknown
codes into ``YN`` and still ACKs), so every kind names both codes explicitly. Where Contact ID has
no dedicated code (fences, cameras, offline devices) the choice is documented in
``docs/forwarding.md``. Zone = the device's stable number, partition = the school area.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventCode:
    """One kind's codes: Contact ID event (3 digits) and SIA codes for a new event and its restore."""

    cid: int
    sia_new: str
    sia_restore: str
    meaning: str

    def sia(self, restore: bool) -> str:
        """The SIA code for a new event or a restore."""
        return self.sia_restore if restore else self.sia_new


PANIC = EventCode(120, "PA", "PH", "panic (one-click emergency alarm)")
PERIMETER = EventCode(131, "BA", "BH", "perimeter burglary (fence)")
TAMPER = EventCode(137, "TA", "TR", "tamper")
AC_LOSS = EventCode(301, "AT", "AR", "AC (mains) loss")
LOW_BATTERY = EventCode(302, "YT", "YR", "low battery")
SYSTEM_TROUBLE = EventCode(300, "YX", "YZ", "system trouble")
SENSOR_TROUBLE = EventCode(380, "YX", "YZ", "sensor trouble")
SUPERVISION_LOSS = EventCode(381, "YC", "YK", "loss of supervision (device offline)")
COMM_TROUBLE = EventCode(350, "YC", "YK", "communication trouble")
DOOR_FORCED = EventCode(423, "DF", "DR", "door forced open")
# Contact ID 426 (door propped open) has no SIA twin in pysiaalarm's table; SIA DN
# ("access point open when the door cycle time expired") is the precise meaning.
DOOR_HELD = EventCode(426, "DN", "DR", "door held open")
PERIODIC_TEST = EventCode(602, "RP", "RP", "periodic test report")

CODES: dict[str, EventCode] = {
    "panic": PANIC,
    # Fence: a cut or climb is a perimeter alarm; a fence that cannot guard is sensor trouble.
    "intrusion": PERIMETER,
    "wire_cut": PERIMETER,
    "short_circuit": SENSOR_TROUBLE,
    "pulse_loss": SENSOR_TROUBLE,
    "voltage_low": SENSOR_TROUBLE,
    "tamper": TAMPER,
    "mains_loss": AC_LOSS,
    "low_battery": LOW_BATTERY,
    "self_test_failed": SYSTEM_TROUBLE,
    "reader_fault": SENSOR_TROUBLE,
    "door_forced": DOOR_FORCED,
    "door_held": DOOR_HELD,
    # A camera that cannot see (black, covered, frozen, moved) is a sensor that cannot guard.
    "video_blind": SENSOR_TROUBLE,
    "device_offline": SUPERVISION_LOSS,
    "gateway_offline": SUPERVISION_LOSS,
    "communication_trouble": COMM_TROUBLE,
    "periodic_test": PERIODIC_TEST,
}


def code_for(kind: str) -> EventCode | None:
    """The codes for one of our alarm kinds; None when the kind has no mapping (not forwardable)."""
    return CODES.get(kind)


def adm_cid_data(account: str, code: EventCode, *, restore: bool, area: int, zone: int) -> str:
    """The ADM-CID data block: ``#ACCT|Q EEE GG ZZZ]`` (qualifier 1 new, 3 restore)."""
    qualifier = 3 if restore else 1
    return f"#{account}|{qualifier}{code.cid:03d} {area:02d} {zone:03d}]"


def sia_dcs_data(account: str, code: EventCode, *, restore: bool, area: int, zone: int) -> str:
    """The SIA-DCS data block: ``#ACCT|Nri<area>/<CODE><zone>]``."""
    return f"#{account}|Nri{area}/{code.sia(restore)}{zone:03d}]"
