"""The reader thread of imports: batches in order, the producer's error raised where its items would have
arrived, and a caller that leaves early stops the thread."""

import threading

import pytest

from labeling.services.read_ahead import ReadAhead


def test_items_arrive_in_order_in_batches_and_none_is_dropped():
    with ReadAhead(range(10), lambda i: None if i % 3 == 0 else i * 10, batch_size=4) as batches:
        got = list(batches)
    assert got == [[10, 20, 40, 50], [70, 80]]


def test_an_error_in_the_producer_reaches_the_caller_after_the_items_before_it():
    def items():
        yield from range(5)
        raise ValueError("bad file")

    seen = []
    with pytest.raises(ValueError, match="bad file"), ReadAhead(items(), lambda i: i, batch_size=2) as batches:
        for batch in batches:
            seen += batch
    assert seen == [0, 1, 2, 3, 4]


def test_leaving_early_stops_the_thread():
    endless = iter(int, 1)  # never ends
    reader = ReadAhead(endless, lambda i: i, batch_size=10, depth=2, name="endless-reader")
    with pytest.raises(RuntimeError), reader as batches:
        next(batches)
        raise RuntimeError("the caller failed")
    assert not [t for t in threading.enumerate() if t.name == "endless-reader"]
