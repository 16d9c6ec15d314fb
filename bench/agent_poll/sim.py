"""Bench simulator: S pymodbus 3.16 TCP servers on loopback, each with N/S unit ids.

Each device: coils 0-15, discrete inputs 0-15, holding registers 0-15, input registers 0-15.
HR0 = int(time.time()) & 0xFFFF, written to every device 1 ms after each full second, so any value
received maps to the second in which it was current. HR1 = server*100+unit, HR2 = unit, HR3 is a
random walk updated every 10 s, HR4-9 are constants. Every second each device toggles one random
discrete input with probability 1/30; every toggle is logged to toggles.csv as
``time,device,bit,value`` (time = wall clock right after the write).

Prints ``ready`` once every server listens; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import random
import signal
import time
from pathlib import Path

from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

FC_DI, FC_HR = 2, 3


def device_name(server: int, unit: int) -> str:
    """The device id shared by every subject: s<server>u<unit, 2 digits>."""
    return f"s{server}u{unit:02d}"


def layout(devices: int, servers: int) -> list[list[int]]:
    """Unit ids per server: devices spread as evenly as possible, ids from 1."""
    per = [devices // servers + (1 if i < devices % servers else 0) for i in range(servers)]
    return [list(range(1, n + 1)) for n in per]


def _sim_device(unit: int) -> SimDevice:
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    bits2 = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    regs = [SimData(0, count=16, values=0, datatype=DataType.REGISTERS)]
    regs2 = [SimData(0, count=16, values=0, datatype=DataType.REGISTERS)]
    return SimDevice(unit, simdata=(bits, bits2, regs, regs2))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--ports", required=True, help="comma-separated TCP ports, one per server")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--toggle-p", type=float, default=1 / 30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    rng = random.Random(args.seed)  # noqa: S311 - workload, not security
    units = layout(args.devices, len(ports))
    servers: list[ModbusTcpServer] = []
    for port, unit_ids in zip(ports, units, strict=True):
        server = ModbusTcpServer(
            [_sim_device(u) for u in unit_ids],
            address=("127.0.0.1", port),
            framer=FramerType.SOCKET,
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        servers.append(server)
    di_state: dict[tuple[int, int], list[bool]] = {}
    walk: dict[tuple[int, int], int] = {}
    for s, (server, unit_ids) in enumerate(zip(servers, units, strict=True)):
        for u in unit_ids:
            di_state[(s, u)] = [False] * 16
            walk[(s, u)] = 1000
            regs = [int(time.time()) & 0xFFFF, s * 100 + u, u, 1000, 4, 5, 6, 7, 8, 9]
            await server.async_setValues(u, FC_HR, 0, regs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print("ready", flush=True)
    with args.out.open("w", encoding="utf-8") as log:
        log.write("time,device,bit,value\n")
        while not stop.is_set():
            now = time.time()
            nxt = int(now) + 1 + 0.001
            try:
                await asyncio.wait_for(stop.wait(), nxt - now)
                break
            except TimeoutError:
                pass
            second = int(time.time())
            hr0 = [second & 0xFFFF]
            for s, (server, unit_ids) in enumerate(zip(servers, units, strict=True)):
                for u in unit_ids:
                    await server.async_setValues(u, FC_HR, 0, hr0)
                    if second % 10 == 0:
                        walk[(s, u)] = max(0, min(65535, walk[(s, u)] + rng.randint(-5, 5)))
                        await server.async_setValues(u, FC_HR, 3, [walk[(s, u)]])
                    if rng.random() < args.toggle_p:
                        bit = rng.randrange(16)
                        state = di_state[(s, u)]
                        state[bit] = not state[bit]
                        await server.async_setValues(u, FC_DI, bit, [state[bit]])
                        log.write(f"{time.time():.6f},{device_name(s, u)},{bit},{int(state[bit])}\n")
            log.flush()
    for server in servers:
        await server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
