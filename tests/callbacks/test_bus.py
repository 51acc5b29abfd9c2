import asyncio
import threading

import pytest

from synthos.callbacks import ProgressBus


def publish_from_thread(
    bus: ProgressBus, records: list, then_close: bool = True
) -> threading.Thread:
    def run():
        for record in records:
            bus.publish(record)
        if then_close:
            bus.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_blocking_subscribers_get_every_record_in_order():
    bus = ProgressBus()
    first, second = bus.subscribe(), bus.subscribe()
    publish_from_thread(bus, list(range(100))).join()
    assert list(first) == list(range(100)) and list(second) == list(range(100))
    assert bus.subscriber_count == 0


def test_async_subscriber_receives_records_published_from_another_thread():
    bus = ProgressBus()

    async def consume():
        subscription = bus.subscribe()
        bus.publish("before")  # queued before the loop binds: still delivered first
        thread = publish_from_thread(bus, [{"n": i} for i in range(50)])
        received = [record async for record in subscription]
        await asyncio.to_thread(thread.join)
        return received

    received = asyncio.run(consume())
    assert received == ["before", *({"n": i} for i in range(50))]


def test_validation_filter_and_bounded_queue():
    bus = ProgressBus()
    only_a = bus.subscribe(validation_id="a")
    small = bus.subscribe(maxsize=3)
    for i in range(5):
        bus.publish({"validation_id": "a" if i % 2 == 0 else "b", "n": i})
    bus.close()
    assert [r["n"] for r in only_a] == [0, 2, 4]
    assert [r["n"] for r in small] == [2, 3, 4] and small.dropped == 2


def test_get_times_out_and_closed_subscription_ends():
    bus = ProgressBus()
    subscription = bus.subscribe()
    with pytest.raises(TimeoutError):
        subscription.get(timeout=0.05)
    subscription.close()
    assert subscription.get(timeout=0.05) is None
    bus.publish("late")  # no error, nobody receives it
    assert bus.subscriber_count == 0


def test_subscription_whose_loop_closed_is_dropped():
    bus = ProgressBus()

    async def bind():
        subscription = bus.subscribe()
        bus.publish(1)
        return await subscription.__anext__()

    assert asyncio.run(bind()) == 1
    bus.publish(2)  # that loop is gone: the subscription is removed, publish does not raise
    assert bus.subscriber_count == 0
