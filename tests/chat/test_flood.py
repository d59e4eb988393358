"""The flood counter on its own (``netsuite.chat._flood``)."""

from __future__ import annotations

import pytest

from netsuite.chat._flood import DROP, KICK, OK, WARN, FloodCounter


def test_within_the_limit_then_one_warning_per_second() -> None:
    counter = FloodCounter(3, 10.0)
    assert [counter.count(100.1) for _ in range(6)] == [OK, OK, OK, WARN, DROP, DROP]
    assert [counter.count(101.0) for _ in range(5)] == [OK, OK, OK, WARN, DROP]


def test_flooding_every_second_for_drop_after_kicks() -> None:
    counter = FloodCounter(1, 3.0)
    verdicts = []
    for second in range(5):
        verdicts.append([counter.count(200 + second + 0.5) for _ in range(2)])
    assert verdicts[:3] == [[OK, WARN]] * 3
    assert verdicts[3] == [OK, KICK]


def test_a_quiet_second_starts_the_count_again() -> None:
    counter = FloodCounter(1, 2.0)
    assert [counter.count(10.5), counter.count(10.6)] == [OK, WARN]
    assert counter.count(11.5) == OK  # within the limit in second 11
    assert [counter.count(12.5), counter.count(12.6)] == [OK, WARN]  # flooding again
    assert [counter.count(13.5), counter.count(13.6)] == [OK, WARN]  # 1 s of it, not 3
    assert [counter.count(14.5), counter.count(14.6)] == [OK, KICK]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FloodCounter(0, 10.0)
