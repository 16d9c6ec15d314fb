"""cancel_and_wait ends a task even when a cancel gets lost, as aiomqtt's wait_for can lose one on 3.11."""

import asyncio

from campusguard.tasks import cancel_and_wait


async def test_a_task_that_loses_the_first_cancel_still_ends() -> None:
    lost = 0

    async def loop_that_loses_one_cancel() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost += 1  # what asyncio.wait_for on 3.11 does when the result and the cancel race

    task = asyncio.create_task(loop_that_loses_one_cancel())
    await asyncio.sleep(0.02)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert lost == 1


async def test_finished_tasks_are_left_alone() -> None:
    async def done() -> int:
        return 7

    task = asyncio.create_task(done())
    await task
    await cancel_and_wait(task)
    assert task.result() == 7


async def test_a_supervised_task_that_crashes_is_started_again_and_counted() -> None:
    from campusguard.tasks import TaskHealth, supervised

    stop, health, runs = asyncio.Event(), TaskHealth(), []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"bug number {len(runs)}")
        await stop.wait()

    task = asyncio.create_task(supervised("flaky", flaky, stop, health))
    for _ in range(100):
        if health.running and len(runs) == 3:
            break
        await asyncio.sleep(0.05)
    assert (len(runs), health.restarts, health.running) == (3, 2, True)
    assert health.last_error == "RuntimeError: bug number 2"
    stop.set()
    await asyncio.wait_for(task, 2)
    assert not health.running
