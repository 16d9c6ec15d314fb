"""bench/agent_poll: the agent, a floor script and the ThingsBoard IoT Gateway, side by side.

One invocation starts one mosquitto, one simulator (sim.py) and one measuring subscriber
(collector.py) on loopback, then runs each subject in turn against them: warm-up, then a measured
window in which /proc/<pid>/stat and /proc/<pid>/status of the subject (and its children), the
simulator, the broker and the collector, and /proc/stat of the whole machine are sampled every
``--sample-s`` seconds. analyze.py turns the run directory into results.json and results.md.

    .venv/bin/python bench/agent_poll/run.py --devices 200 --seconds 150 --warmup 30 --subjects agent,floor,tb

Subjects run one after the other (not together) so that each sees the same simulator load (400
Modbus requests/s) and none pays for another's CPU on this 2-core machine.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = ROOT / ".venv" / "bin" / "python"
CAMPUSGUARD = ROOT / ".venv" / "bin" / "campusguard"
TB_VENV = ROOT / ".bench-venvs" / "tb"
TB_PACKAGES = ["thingsboard-gateway==3.8.5", "pymodbus==3.9.2", "pyserial==3.5", "pyserial-asyncio==0.6"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
# agent_aligned and floor_tasks are experiments that explain the agent/floor gap (see the docs).
SUBJECTS = ("agent", "agent_aligned", "floor", "floor_tasks", "tb")

sys.path.insert(0, str(HERE))
import analyze  # noqa: E402
from sim import device_name, layout  # noqa: E402

from campusguard.net import free_port  # noqa: E402
from campusguard.net import wait_for_port as wait_port  # noqa: E402

# --- processes --------------------------------------------------------------------------------


def wait_line(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}; see {path}")
        time.sleep(0.1)
    raise TimeoutError(f"no {text!r} in {path} after {timeout_s} s")


class Procs:
    """Every process this run started, stopped by pid in reverse order."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.started.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc, timeout_s=10)


# --- sampling ---------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def proc_sample(pid: int, tree: bool = False) -> dict[str, float] | None:
    """CPU seconds (utime+stime), RSS MB and threads of a process (summed over its tree if asked)."""
    cpu = rss = threads = 0.0
    pids = _children(pid) if tree else [pid]
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as f:
                status = f.read()
        except OSError:
            if p == pid:
                return None
            continue
        cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
        threads += int(fields[17])
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
    return {"cpu_s": cpu, "rss_mb": rss, "threads": threads, "procs": len(pids)}


def machine_sample() -> dict[str, float]:
    with open("/proc/stat", encoding="ascii") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return {"total_s": sum(parts[:8]) / CLK_TCK, "idle_s": idle / CLK_TCK, "ncpu": os.cpu_count() or 1}


def sample(roles: dict[str, int], subject: str) -> dict[str, Any]:
    row: dict[str, Any] = {"t": time.time(), "machine": machine_sample()}
    for role, pid in roles.items():
        row[role] = proc_sample(pid, tree=(role == subject))
    return row


# --- subjects ---------------------------------------------------------------------------------


def agent_files(run: Path, args: argparse.Namespace, ports: list[int], broker: int, name: str) -> list[str]:
    d = run / name
    d.mkdir(parents=True, exist_ok=True)
    lines = [
        "schema_version: 1",
        "school_id: bench-school",
        "gateway_id: bench-gw",
        f"mqtt: {{url: 'mqtt://127.0.0.1:{broker}'}}",
        f"spool: {{path: '{d / 'spool.db'}'}}",
        f"snapshot_interval_s: {args.snapshot_interval}",
        "defaults: {interval_s: 1.0, timeout_s: 0.5, offline_after: 2, max_backoff_s: 30, "
        f"bus_phase: {args.bus_phase}}}",
        f"profile_dirs: ['{HERE / 'profiles'}']",
        "devices:",
    ]
    for s, units in enumerate(layout(args.devices, len(ports))):
        for u in units:
            lines.append(
                f"  - {{id: {device_name(s, u)}, profile: bench/generic-bench26, "
                f"address: 'tcp://127.0.0.1:{ports[s]}', unit_id: {u}}}"
            )
    (d / "agent.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if name == "agent_aligned":
        return [str(PY), str(HERE / "agent_aligned.py"), "agent", "--config", str(d / "agent.yaml")]
    return [str(CAMPUSGUARD), "agent", "--config", str(d / "agent.yaml")]


def ensure_tb_venv() -> Path:
    """The gateway's own venv, created on demand: it pins pymodbus 3.9.2 and must not share ours."""
    gw = TB_VENV / "bin" / "thingsboard-gateway"
    if gw.exists():
        return gw
    print(f"creating {TB_VENV} with {' '.join(TB_PACKAGES)}", flush=True)
    subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(TB_VENV)], check=True)
    subprocess.run([str(TB_VENV / "bin" / "pip"), "install", "--quiet", *TB_PACKAGES], check=True)
    return gw


def tb_files(run: Path, args: argparse.Namespace, ports: list[int], broker: int) -> list[str]:
    gw = ensure_tb_venv()
    site = next((TB_VENV / "lib").glob("python3*/site-packages/thingsboard_gateway/config"))
    d = run / "tb"
    conf = d / "config"
    logs = d / "logs"
    conf.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    (d / "data").mkdir(exist_ok=True)
    main = json.loads((site / "tb_gateway.json").read_text(encoding="utf-8"))
    tb = main["thingsboard"]
    tb.update(
        host="127.0.0.1",
        port=broker,
        remoteConfiguration=False,
        remoteShell=False,
        qos=1,
        reportStrategy={"type": "ON_RECEIVED"},
        security={"type": "accessToken", "accessToken": "campusguard-bench"},
    )
    main["storage"] = {"type": "memory", "read_records_count": 100, "max_records_count": 100000}
    main["connectors"] = [{"type": "modbus", "name": "Modbus Connector", "configuration": "modbus.json"}]
    (conf / "tb_gateway.json").write_text(json.dumps(main, indent=2), encoding="utf-8")
    log_conf = json.loads((site / "logs.json").read_text(encoding="utf-8"))
    for handler in log_conf["handlers"].values():
        if "filename" in handler:
            handler["filename"] = str(logs / Path(handler["filename"]).name)
    (conf / "logs.json").write_text(json.dumps(log_conf, indent=2), encoding="utf-8")
    slaves = []
    for s, units in enumerate(layout(args.devices, len(ports))):
        for u in units:
            slaves.append(
                {
                    "host": "127.0.0.1",
                    "port": ports[s],
                    "type": "tcp",
                    "method": "socket",
                    "unitId": u,
                    "deviceName": device_name(s, u),
                    "deviceType": "alarmbox",
                    "timeout": 35,
                    "byteOrder": "BIG",
                    "wordOrder": "LITTLE",
                    "retries": 3,
                    "retryOnEmpty": True,
                    "retryOnInvalid": True,
                    "pollPeriod": 1000,
                    "connectAttemptTimeMs": 5000,
                    "connectAttemptCount": 5,
                    "waitAfterFailedAttemptsMs": 300000,
                    "attributes": [],
                    "timeseries": [
                        {
                            "tag": "di",
                            "type": "bits",
                            "functionCode": 2,
                            "objectsCount": 16,
                            "address": 0,
                            "bitTargetType": "bool",
                        },
                        {
                            "tag": "hr_${address}",
                            "type": "16uint",
                            "functionCode": 3,
                            "objectsCount": 1,
                            "address": "0-9",
                        },
                    ],
                    "attributeUpdates": [],
                    "rpc": [],
                }
            )
    (conf / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}, indent=1), encoding="utf-8")
    return [str(gw)]


# --- the run ----------------------------------------------------------------------------------


def run_subject(
    name: str,
    cmd: list[str],
    *,
    procs: Procs,
    run: Path,
    roles: dict[str, int],
    args: argparse.Namespace,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    print(f"[{time.strftime('%H:%M:%S')}] {name}: start, warm-up {args.warmup} s", flush=True)
    proc = procs.start(cmd, run / f"{name}.log", env=env, cwd=cwd)
    roles = {**roles, name: proc.pid}
    samples: list[dict[str, Any]] = []
    started = time.time()
    t0 = started + args.warmup
    t1 = t0 + args.seconds
    next_sample = time.time()
    spy_started = not args.pyspy
    while time.time() < t1:
        if not spy_started and time.time() >= t0:  # profile the measured window only
            spy_started = True
            spy = ROOT / ".venv" / "bin" / "py-spy"
            spy_cmd = [str(spy), "record", "--pid", str(proc.pid), "--rate", "100", "--nonblocking"]
            spy_cmd += [
                "--format",
                "raw",
                "--output",
                str(run / f"{name}.pyspy.txt"),
                "--duration",
                str(int(args.seconds)),
            ]
            procs.start(spy_cmd, run / f"{name}.pyspy.log")
        if proc.poll() is not None:
            print(f"{name} exited early with {proc.returncode}; see {run / f'{name}.log'}", flush=True)
            break
        if time.time() >= next_sample:
            samples.append(sample(roles, name))
            next_sample += args.sample_s
        time.sleep(max(0.0, min(next_sample, t1) - time.time()))
    samples.append(sample(roles, name))
    print(f"[{time.strftime('%H:%M:%S')}] {name}: stop", flush=True)
    stop_sig = signal.SIGINT if name == "tb" else signal.SIGTERM
    procs.stop(proc, stop_sig, timeout_s=30)
    return {"name": name, "pid": proc.pid, "started": started, "t0": t0, "t1": t1, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=150, help="measured window per subject")
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--subjects", default="agent,floor,tb", help=f"comma-separated, of {', '.join(SUBJECTS)}")
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--snapshot-interval", type=float, default=10.0)
    parser.add_argument("--gap", type=float, default=5.0, help="pause between subjects")
    parser.add_argument("--bus-phase", choices=["spread", "shared"], default="shared", help="the agent's bus_phase")
    parser.add_argument("--pyspy", action="store_true", help="profile each subject with py-spy (not for CPU numbers)")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default bench/results/<time>)")
    args = parser.parse_args()
    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
    for s in subjects:
        if s not in SUBJECTS:
            parser.error(f"unknown subject {s!r}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = (args.out or ROOT / "bench" / "results" / f"agent_poll-{stamp}").resolve()
    run.mkdir(parents=True, exist_ok=True)
    broker = free_port()
    ports = [free_port() for _ in range(args.servers)]
    meta: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/agent_poll/run.py", *sys.argv[1:]]),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "stamp": stamp,
        "broker_port": broker,
        "modbus_ports": ports,
        "ncpu": os.cpu_count(),
        "phases": [],
    }
    procs = Procs()
    try:
        user = "user root\n" if os.geteuid() == 0 else ""
        (run / "mosquitto.conf").write_text(
            f"listener {broker} 127.0.0.1\nallow_anonymous true\n{user}persistence false\n"
            "max_queued_messages 200000\nlog_dest stdout\n",
            encoding="utf-8",
        )
        mosq_bin = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        mosq = procs.start([mosq_bin, "-c", str(run / "mosquitto.conf")], run / "mosquitto.log")
        wait_port(broker, 15)
        port_list = ",".join(map(str, ports))
        sim_cmd = [str(PY), str(HERE / "sim.py"), "--devices", str(args.devices), "--ports", port_list]
        sim = procs.start([*sim_cmd, "--out", str(run / "toggles.csv")], run / "sim.log")
        wait_line(run / "sim.log", "ready", sim)
        coll_cmd = [str(PY), str(HERE / "collector.py"), "--broker-port", str(broker), "--out", str(run)]
        coll = procs.start(coll_cmd, run / "collector.log")
        wait_line(run / "collector.log", "ready", coll)
        roles = {"sim": sim.pid, "broker": mosq.pid, "collector": coll.pid}
        for i, name in enumerate(subjects):
            if i:
                time.sleep(args.gap)
            env, cwd = None, None
            if name.startswith("agent"):
                cmd = agent_files(run, args, ports, broker, name)
            elif name.startswith("floor"):
                cmd = [str(PY), str(HERE / "floor.py"), "--devices", str(args.devices), "--ports", port_list]
                cmd += ["--broker-port", str(broker)]
                if name == "floor_tasks":
                    cmd.append("--per-device-tasks")
            else:
                cmd = tb_files(run, args, ports, broker)
                env = {**os.environ, "TB_GW_CONFIG_DIR": str(run / "tb" / "config") + "/"}
                cwd = run / "tb"
            meta["phases"].append(
                run_subject(name, cmd, procs=procs, run=run, roles=roles, args=args, env=env, cwd=cwd)
            )
            (run / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        time.sleep(3)  # let the last messages and acks land
    finally:
        procs.stop_all()
        (run / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    results = analyze.analyze(run)
    print(analyze.markdown(results))
    print(f"run directory: {run}")


if __name__ == "__main__":
    main()
