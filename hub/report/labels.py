"""The report's words in Chinese (the default) and English, and the formatting of its numbers."""

from datetime import datetime
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("校园安防设备运行月报", "Monthly report on school security devices"),
    "city": ("全市", "All schools"),
    "period": ("统计期间", "Period"),
    "timezone": ("时区", "Time zone"),
    "partial": ("本月尚未结束：数据截至 {end}。", "The month is not over: data up to {end}."),
    "summary": ("概况", "Summary"),
    "online_rate": ("在线率", "Online rate"),
    "intact_rate": ("完好率", "Intact rate"),
    "camera_intact_rate": ("摄像机完好率", "Camera intact rate"),
    "coverage": ("数据覆盖率", "Data coverage"),
    "unknown_h": ("状态未知（小时）", "Unknown (hours)"),
    "schools": ("学校数", "Schools"),
    "devices": ("设备数", "Devices"),
    "alarms": ("告警数", "Alarms"),
    "panic": ("一键报警", "Panic alarms"),
    "failing_rules": ("不达标项", "Failing rules"),
    "unknown_rules": ("待核实项", "Rules lacking data"),
    "networking_rate": ("联网率", "Networked rate"),
    "compliant": ("达标", "Compliant"),
    "compliance_rate": ("达标率", "Compliance rate"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "kpi_note": (
        "联网率、达标率与规则结论按生成报表时的学校档案和设备状态计算。",
        "Networked and compliance rates and rule verdicts are taken from the profiles and device states "
        "when the report is made.",
    ),
    "trend": ("每日在线率与完好率", "Daily online and intact rates"),
    "ranking": ("学校排名", "Schools ranked"),
    "rank": ("排名", "Rank"),
    "school": ("学校", "School"),
    "district": ("区县", "District"),
    "month_trend": ("本月走势", "This month"),
    "longest_down": ("离线时间最长的设备", "Devices down longest"),
    "device": ("设备", "Device"),
    "kind": ("类型", "Kind"),
    "location": ("位置", "Location"),
    "offline_h": ("离线（小时）", "Offline (hours)"),
    "degraded_h": ("图像异常（小时）", "Degraded (hours)"),
    "longest_outage_h": ("最长一次（小时）", "Longest outage (hours)"),
    "cameras_not_intact": ("未达完好的摄像机", "Cameras not intact"),
    "repairs": ("故障修复（24 小时时限）", "Repairs against the 24-hour deadline"),
    "repairs_note": (
        "依据 GB/T 29315-2012：系统出现故障时，应在24h内恢复功能。",
        "GB/T 29315-2012: a fault must be repaired within 24 h.",
    ),
    "outages_began": ("本月新发故障", "Outages begun"),
    "repaired_in_time": ("按时修复", "Repaired in time"),
    "overdue": ("超时", "Overdue"),
    "still_down": ("尚未修复", "Still down"),
    "median_h": ("修复时长中位数（小时）", "Median repair (hours)"),
    "p90_h": ("修复时长 P90（小时）", "90th percentile repair (hours)"),
    "down_at": ("故障时间", "Down at"),
    "up_at": ("恢复时间", "Back at"),
    "hours": ("时长（小时）", "Hours"),
    "not_yet": ("未恢复", "not yet"),
    "alarms_by_kind": ("告警统计与处置", "Alarms and how they were handled"),
    "raised": ("发生", "Raised"),
    "acknowledged": ("已确认", "Acknowledged"),
    "resolved": ("已处置", "Resolved"),
    "still_open": ("未处置", "Open"),
    "ack_median": ("确认用时中位数", "Median to acknowledge"),
    "ack_p90": ("确认用时 P90", "90th pct. to acknowledge"),
    "resolve_median": ("处置用时中位数", "Median to resolve"),
    "resolve_p90": ("处置用时 P90", "90th pct. to resolve"),
    "dispositions": ("处置结论", "Turned out to be"),
    "disp_real": ("真警", "real"),
    "disp_false_alarm": ("误报", "false alarm"),
    "disp_device_fault": ("设备故障", "device fault"),
    "disp_drill": ("演练", "drill"),
    "disp_test": ("测试", "test"),
    "disp_other": ("其他", "other"),
    "disp_unsaid": ("未填写", "not said"),
    "forwarding": ("报警联网（推送公安报警中心）", "Alarms forwarded to the police alarm centre"),
    "messages": ("应推送", "To send"),
    "delivered": ("已送达", "Delivered"),
    "within_2s": ("2 秒内送达", "Within 2 s"),
    "pending": ("待送达", "Pending"),
    "unroutable": ("无路由", "No route"),
    "latency_p50": ("时延中位数", "Median latency"),
    "latency_p95": ("时延 P95", "95th pct. latency"),
    "latency_max": ("最大时延", "Largest latency"),
    "failed_attempts": ("失败尝试", "Failed attempts"),
    "compliance": ("不达标与待核实规则", "Rules failed or lacking data"),
    "compliance_note": (
        "按生成报表时的学校档案评估；状态未知表示缺少数据，不计为达标。",
        "Judged on the school profiles as they stand when the report is made; unknown means data is "
        "missing and never counts as a pass.",
    ),
    "rule": ("规则", "Rule"),
    "subject": ("对象", "Subject"),
    "status": ("结论", "Verdict"),
    "severity": ("等级", "Severity"),
    "evidence": ("依据与缺失数据", "Evidence and missing data"),
    "source": ("出处", "Source"),
    "fail": ("不达标", "fail"),
    "unknown": ("未知", "unknown"),
    "critical": ("严重", "critical"),
    "major": ("重要", "major"),
    "minor": ("一般", "minor"),
    "none": ("无", "none"),
    "no_data": ("—", "—"),
    "definitions": ("口径说明", "Definitions"),
    "def_online": (
        "在线率 = 在线（含图像异常）时长 ÷ 已知状态时长；按各校所在时区自然日切分。",
        "Online rate = time online (degraded included) ÷ time whose state is known; days cut in each school's zone.",
    ),
    "def_intact": (
        "完好率 = 在线且图像可用时长 ÷ 已知状态时长；遮挡、冻结、黑屏的摄像机在线但不完好。",
        "Intact rate = time online and usable ÷ known time; a covered, frozen or black camera is online, not intact.",
    ),
    "def_networking": (
        "联网率 = 已接入规定平台的点位 ÷ 规定须联网的点位；"
        "达标率 = 规则全部符合且设备全部在线的学校 ÷ 学校数，资料不全的学校不计为达标。",
        "Networked rate = required points networked to their platform ÷ required points; compliance rate = schools "
        "whose every rule passes and every device answers ÷ schools; a school lacking data is never counted compliant.",
    ),
    "def_unknown": (
        "状态未知的时长单独列出，不计入在线，也不计入离线；无任何已知时长时不给出比率。",
        "Unknown time is shown apart, counted neither up nor down; with no known time there is no rate.",
    ),
    "footer": ("由 CampusGuard 生成", "Made by CampusGuard"),
}

KINDS: dict[str, tuple[str, str]] = {
    "panic": ("一键报警", "Panic button"),
    "intrusion": ("周界入侵", "Perimeter intrusion"),
    "wire_cut": ("围栏断线", "Fence wire cut"),
    "short_circuit": ("围栏短路", "Fence short circuit"),
    "pulse_loss": ("围栏脉冲丢失", "Fence pulse loss"),
    "voltage_low": ("围栏电压低", "Fence voltage low"),
    "tamper": ("防拆报警", "Tamper"),
    "door_forced": ("强行开门", "Door forced"),
    "door_held": ("门长时间未关", "Door held open"),
    "reader_fault": ("读卡器故障", "Reader fault"),
    "self_test_failed": ("自检失败", "Self-test failed"),
    "mains_loss": ("主电源掉电", "Mains power lost"),
    "low_battery": ("备用电源欠压", "Backup battery low"),
    "video_blind": ("视频异常", "Video blind"),
    "signal_loss": ("视频信号丢失", "Video signal lost"),
    "device_offline": ("设备离线", "Device offline"),
    "gateway_offline": ("网关离线", "Gateway offline"),
    "spool_failure": ("网关存储故障", "Gateway spool failure"),
    "communication_trouble": ("报警联网故障", "Alarm link trouble"),
    "one_click_alarm": ("一键报警装置", "Panic button"),
    "fence": ("电子围栏", "Electronic fence"),
    "access_gate": ("门禁", "Access gate"),
    "camera": ("摄像机", "Camera"),
}


class Words:
    """Texts and number formats in one language."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.index = LANGS.index(lang) if lang in LANGS else 0
        self.lang = LANGS[self.index]
        self.tz = tz

    def __call__(self, key: str, **values: object) -> str:
        pair = TEXTS.get(key)
        return pair[self.index].format(**values) if pair else key

    def kind(self, code: str) -> str:
        pair = KINDS.get(code)
        return pair[self.index] if pair else code

    def pct(self, rate: float | None) -> str:
        return self("no_data") if rate is None else f"{rate * 100:.2f}%"

    def hours(self, seconds: float | None) -> str:
        return self("no_data") if seconds is None else f"{seconds / 3600:.1f}"

    def duration(self, seconds: float | None) -> str:
        """A response time: seconds, minutes or hours, whichever reads best."""
        if seconds is None:
            return self("no_data")
        if seconds < 120:
            return f"{seconds:.0f} s"
        if seconds < 7200:
            return f"{seconds / 60:.0f} min"
        return f"{seconds / 3600:.1f} h"

    def counts(self, pairs: tuple[tuple[str, int], ...]) -> str:
        """What resolved alarms turned out to be: "真警 3 · 误报 1"."""
        return " · ".join(f"{self(f'disp_{k}')} {n}" for k, n in pairs) or self("no_data")

    def ms(self, value: float | None) -> str:
        return self("no_data") if value is None else f"{value:.0f} ms"

    def time(self, at: datetime | None) -> str:
        return self("not_yet") if at is None else at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def month(self, year: int, month: int) -> str:
        return f"{year}年{month}月" if self.lang == "zh" else f"{year}-{month:02d}"
