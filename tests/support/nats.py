"""A real three-node NATS cluster (Debian's nats-server) with its MQTT listeners, on free loopback ports.

NATS keeps MQTT sessions, retained messages and QoS 1 deliveries in JetStream, replicated across
the cluster; with three nodes, one can die and the other two keep the quorum. MQTT 3.1.1 only, and
no shared subscriptions: the hubs use ``cluster.partitions`` on it (docs/scaling.md).
"""

import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.servers import find_binary, free_port, terminate

READY_S = 30.0


class NatsCluster:
    """``size`` nats-server nodes routed to each other, each with JetStream and an MQTT listener (one
    node: no cluster at all)."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir, self.size = workdir, size
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        self.mqtt_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size
        workdir.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.route_ports)
        for i in range(size):
            cluster = f"cluster {{ name: cg; listen: 127.0.0.1:{self.route_ports[i]}; routes: [{routes}] }}\n"
            (workdir / f"n{i}.conf").write_text(
                f"server_name: n{i}\n"
                f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                f"jetstream {{ store_dir: {workdir / f'js{i}'} }}\n"
                + (cluster if size > 1 else "")
                # a hub or the fleet acknowledging late must not see its QoS 1 messages resent early
                + f"mqtt {{ listen: 127.0.0.1:{self.mqtt_ports[i]}; ack_wait: 30s; max_ack_pending: 10000 }}\n"
            )

    def start(self, node: int | None = None) -> "NatsCluster":
        """Start every node (or one), then wait until each accepts MQTT connections."""
        binary = find_binary("nats-server", "/usr/sbin")
        for i in range(self.size) if node is None else [node]:
            with (self.workdir / f"n{i}.log").open("ab") as log:
                self.procs[i] = subprocess.Popen(
                    [binary, "-c", str(self.workdir / f"n{i}.conf")], stdout=log, stderr=subprocess.STDOUT
                )
        try:
            for i in range(self.size) if node is None else [node]:
                self.wait_mqtt(i)
        except RuntimeError:
            self.stop()
            raise
        return self

    def wait_mqtt(self, node: int) -> None:
        """Until the node answers an MQTT CONNECT with success (JetStream ready), or READY_S passed."""
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if connack(self.mqtt_ports[node]) == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"nats node n{node} gave no MQTT session within {READY_S} s; see {self.workdir}")

    def kill(self, node: int) -> None:
        """SIGKILL one node (its clients move to the others)."""
        proc = self.procs[node]
        if proc is not None:
            proc.kill()
            proc.wait()
        self.procs[node] = None

    def stop(self) -> None:
        """Stop every node (signalled together, then waited for)."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in enumerate(self.procs):
            terminate(proc)
            self.procs[i] = None

    @property
    def urls(self) -> list[str]:
        """The MQTT URL of each node."""
        return [f"mqtt://127.0.0.1:{p}" for p in self.mqtt_ports]


def connack(port: int) -> int | None:
    """The return code of a persistent-session MQTT 3.1.1 CONNECT (None: no answer)."""
    client_id = b"probe"
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(bytes([0x10, len(body)]) + body)
            answer = sock.recv(4)
    except OSError:
        return None
    return answer[3] if len(answer) == 4 and answer[0] == 0x20 else None
