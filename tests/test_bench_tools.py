"""The hand-run benchmark tools' own logic: the soak's loss checker, the report's rendering."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` as a module (``benchmarks`` is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" /
                                                  f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


soak = load("soak")
report = load("report")


# ---------------------------------------------------------------- soak checker


def make_soak(margin: float = 0.5) -> Any:
    args = argparse.Namespace(margin=margin, seed=1, churn=0.0, rate=1.0)
    return soak.Soak(args)


def receiver(run: Any, sid: str, welcome: float) -> Any:
    client = soak.ChatClient(soak.Seat(run, 0))
    client.sid = sid
    client.welcome = welcome
    return client


def sender(run: Any, sid: str, times: list[float], left: float | None = None) -> None:
    log = soak.Sender()
    log.times = list(times)
    log.left = left
    run.senders[sid] = log


def test_soak_everything_received_is_clean() -> None:
    run = make_soak()
    sender(run, "1.1", [0.0, 1.0, 2.0, 3.0])
    client = receiver(run, "2.1", welcome=0.5)
    for seq in (1, 2, 3):
        client.received("1.1", seq)
    run.evaluate(client, left=10.0)
    assert (run.totals.lost, run.totals.reordered, run.totals.duplicated) == (0, 0, 0)
    assert run.totals.delivered == 3


def test_soak_gap_tail_head_reorder_duplicate() -> None:
    run = make_soak()
    sender(run, "1.1", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    client = receiver(run, "2.1", welcome=0.5)
    for seq in (2, 4, 4, 3):   # head 1 missing, 3 skipped (gap), 4 twice, 3 late
        client.received("1.1", seq)
    run.evaluate(client, left=10.0)  # 5 was written long before leaving: tail missing
    totals = run.totals
    assert totals.duplicated == 1
    assert totals.reordered == 1
    assert totals.lost == 1 + 1 + 1  # gap 3, head 1, tail 5
    assert any("missed head" in e for e in totals.examples)
    assert any("missed tail" in e for e in totals.examples)


def test_soak_messages_near_a_leave_are_not_owed() -> None:
    run = make_soak(margin=0.5)
    sender(run, "1.1", [0.0, 1.0, 1.8])
    client = receiver(run, "2.1", welcome=0.5)
    client.received("1.1", 1)
    run.evaluate(client, left=2.0)  # 1.8 is within the margin of the leave at 2.0
    assert run.totals.lost == 0


def test_soak_sender_that_left_owes_nothing_after() -> None:
    run = make_soak()
    sender(run, "1.1", [0.0, 1.0, 2.0, 9.0], left=2.2)  # 9.0 cannot exist; ignored anyway
    client = receiver(run, "2.1", welcome=0.5)
    client.received("1.1", 1)
    run.evaluate(client, left=20.0)
    assert run.totals.lost == 0  # 2.0 is within the margin of the sender's leave


def test_soak_after_abort_only_what_preceded_the_last_read_is_owed() -> None:
    run = make_soak()
    sender(run, "1.1", [0.0, 1.0, 2.0, 3.0, 4.0])
    sender(run, "3.1", [0.0, 1.0, 2.0, 3.0, 4.0])
    client = receiver(run, "2.1", welcome=0.5)
    client.received("1.1", 1)
    client.received("3.1", 1)
    client.received("3.1", 2)   # newest message read: written at 2.0
    client.aborted = True
    run.evaluate(client, left=10.0)
    assert client.last_write == 2.0
    assert run.totals.lost == 0  # 1.1's seq 2 (written 2.0) is within the margin of 2.0


def test_soak_own_stalls_widen_the_margin() -> None:
    run = make_soak(margin=0.5)
    sender(run, "1.1", [0.0, 1.0, 5.0])
    client = receiver(run, "2.1", welcome=0.5)
    client.received("1.1", 1)
    run.lags = [(8.0, 2.0)]  # the soak's loop stalled 2 s shortly before the leave at 9.0
    run.evaluate(client, left=9.0)
    assert run.totals.lost == 0  # 5.0 > 9.0 - 0.5 - 2 * 2.0
    run.lags = []
    run.evaluate(client, left=9.0)
    assert run.totals.lost == 1


def test_soak_grpc_codec() -> None:
    assert soak.grpc_sum_request(1, 2) == b"\x08\x01\x10\x02"
    reply = b"\x08" + soak.encode_varint(-5)
    assert soak.grpc_sum_reply(reply) == -5
    assert soak.grpc_sum_reply(b"\x08" + soak.encode_varint(2**62)) == 2**62
    assert soak.grpc_sum_reply(b"") == 0


# ---------------------------------------------------------------- report


def record(workload: str, peer: str, rate: float, **extra: Any) -> dict[str, Any]:
    return {"workload": workload, "peer": peer, "run": 1, "server_cpu_s": 1.0,
            "server_hwm_kb": 51200, "lg": {"rate": rate, "rate_unit": "calls/s",
                                           "elapsed_s": 2.0, "p50_us": 100, "p99_us": 900,
                                           "errors": 0, "missing": 0}, **extra}


def test_report_table_medians_and_ratios() -> None:
    records = [record("amp", "netsuite", r) for r in (90_000, 100_000, 110_000)]
    records += [record("amp", "twisted-amp", r) for r in (30_000, 40_000, 50_000)]
    records += [record("chat-idle", "netsuite", 0, idle_kb_per_conn=2.0),
                record("chat-idle", "go-seed", 0, idle_kb_per_conn=7.0)]
    text = report.table(records)
    rows = {line.split(" | ")[2]: line for line in text.splitlines()[2:]}
    assert "100.0k calls/s [90.0k-110.0k]" in rows["netsuite"]
    assert "| 2.50 |" in rows["twisted-amp"]       # ours / theirs throughput
    assert "| 3.50 |" in rows["go-seed"]           # theirs / ours KiB per connection
    assert "50%" in rows["netsuite"]               # server CPU: 1 s of 2 s


def test_report_sweep_table_and_doc_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    records = [dict(record("amp", peer, rate), sweep="amp", x=x)
               for peer, x, rate in (("netsuite", 1, 10_000), ("netsuite", 4, 40_000),
                                     ("twisted-amp", 1, 5_000), ("twisted-amp", 4, 9_000))]
    sweep = report.sweep_table(records, "amp")
    assert sweep.splitlines()[0] == "| connections | netsuite | twisted-amp |"
    assert "| 4 | 40.0k | 9,000 |" in sweep

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\n## Mine\nkeep\n<!-- report:begin -->\nold\n<!-- report:end -->\n"
                   "\n## Others\nkeep too\n")
    monkeypatch.setattr(report, "DOC", doc)
    data = {"when": "now", "argv": "", "machine": "2 cores", "runs": 1, "records": records,
            "plots": []}
    report.write_doc(report.render(data))
    text = doc.read_text()
    assert "old" not in text
    assert "keep\n" in text and "keep too" in text
    assert text.count("<!-- report:begin -->") == 1
    assert "| 4 | 40.0k | 9,000 |" in text


def test_report_plot_writes_png_when_matplotlib_is_there(tmp_path: Path) -> None:
    records = [dict(record("amp", "netsuite", rate), sweep="amp", x=x)
               for x, rate in ((1, 10_000), (4, 40_000))]
    made = report.plot(records, ["amp"], tmp_path / "rpc.png", "t", "calls/s")
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    assert made is has_matplotlib
    assert (tmp_path / "rpc.png").exists() is has_matplotlib


def test_report_chat_messages_bounded() -> None:
    assert report.chat_messages(50) == 2040
    assert report.chat_messages(2) == 50_000
    assert report.chat_messages(1000) == 50
    assert json.dumps(report.WORKLOADS["udp-echo"][0]).count("--rate 0") == 1
