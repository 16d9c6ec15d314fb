"""The floor: the least a poller can do. No spool, no state, no config layer, no reconnect buffer.

One pymodbus 3.16 AsyncModbusTcpClient per server and one task per server on an absolute 1 s
schedule (``start + k``): for each of its devices in turn, read 16 discrete inputs and 10 holding
registers, then one paho publish (QoS 1) of ``{"ts", "values"}`` to ``cg/<device>``.

``--per-device-tasks`` instead gives every device its own task, with phases spread over the second
(the agent's shape); it costs more CPU here because of 200 wake-ups per second instead of 4.
"""

import argparse
import asyncio
import json
import signal
import time

import paho.mqtt.client as mqtt
from pymodbus.client import AsyncModbusTcpClient


async def poll_device(
    client: AsyncModbusTcpClient, unit: int, name: str, *, phase: float, mq: mqtt.Client, stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time() + phase
    k = 0
    while not stop.is_set():
        delay = start + k - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        k += 1
        ts = time.time()
        try:
            di = await client.read_discrete_inputs(0, count=16, device_id=unit)
            hr = await client.read_holding_registers(0, count=10, device_id=unit)
        except Exception as exc:
            print(f"{name}: {exc}", flush=True)
            continue
        if di.isError() or hr.isError():
            continue
        values: dict[str, object] = {"di": list(di.bits[:16])}
        values.update({f"hr_{i}": v for i, v in enumerate(hr.registers)})
        mq.publish(f"cg/{name}", json.dumps({"ts": ts, "values": values}), qos=1)
        behind = loop.time() - (start + k)
        if behind > 0:  # overran a whole slot: skip the missed ticks
            k += int(behind) + 1


async def poll_server(
    client: AsyncModbusTcpClient, units: list[tuple[int, str]], *, mq: mqtt.Client, stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 0
    while not stop.is_set():
        delay = start + k - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        k += 1
        for unit, name in units:
            ts = time.time()
            try:
                di = await client.read_discrete_inputs(0, count=16, device_id=unit)
                hr = await client.read_holding_registers(0, count=10, device_id=unit)
            except Exception as exc:
                print(f"{name}: {exc}", flush=True)
                continue
            if di.isError() or hr.isError():
                continue
            values: dict[str, object] = {"di": list(di.bits[:16])}
            values.update({f"hr_{i}": v for i, v in enumerate(hr.registers)})
            mq.publish(f"cg/{name}", json.dumps({"ts": ts, "values": values}), qos=1)
        behind = loop.time() - (start + k)
        if behind > 0:
            k += int(behind) + 1


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--ports", required=True)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--per-device-tasks", action="store_true")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    mq = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cg-floor")
    mq.max_inflight_messages_set(100)
    mq.connect("127.0.0.1", args.broker_port, keepalive=60)
    mq.loop_start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    n_srv = len(ports)
    per = [args.devices // n_srv + (1 if i < args.devices % n_srv else 0) for i in range(n_srv)]
    clients = []
    tasks = []
    index = 0
    for s, port in enumerate(ports):
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
        await client.connect()
        clients.append(client)
        if not args.per_device_tasks:
            units = [(u, f"s{s}u{u:02d}") for u in range(1, per[s] + 1)]
            tasks.append(asyncio.create_task(poll_server(client, units, mq=mq, stop=stop)))
            continue
        for unit in range(1, per[s] + 1):
            phase = index / args.devices
            index += 1
            tasks.append(
                asyncio.create_task(poll_device(client, unit, f"s{s}u{unit:02d}", phase=phase, mq=mq, stop=stop))
            )
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients:
        client.close()
    mq.loop_stop()
    mq.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
