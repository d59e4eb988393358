"""The ``netsuite`` console script's dispatcher: help, usage errors and exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netsuite._cli import SUBCOMMANDS

NETSUITE = str(Path(sys.executable).with_name("netsuite"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NETSUITE, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def test_console_script_is_installed() -> None:
    assert os.access(NETSUITE, os.X_OK), "pip install -e '.[test]' puts netsuite beside python"


def test_no_arguments_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert "commands:" in result.stderr


def test_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert f"  {name} " in result.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = run("--frobnicate")
    assert result.returncode == 2
    assert "netsuite: error: unknown option --frobnicate" in result.stderr


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help(name: str) -> None:
    result = run(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: netsuite {name}" in result.stdout


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_rejects_a_bad_option(name: str) -> None:
    result = run(name, "--no-such-option")
    assert result.returncode == 2
    assert f"netsuite {name}" in result.stderr


def test_interrupt_exits_130_without_blame() -> None:
    """Ctrl-C (SIGINT) is the user's choice: exit 130, nothing on stderr, no traceback."""
    import signal
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("netsuite")), "send", f"127.0.0.1:{port}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write("hello\n")
            process.stdin.flush()
            assert process.stdout.readline() == "sent 6 bytes\n"  # connected and running
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    assert stderr == ""
