"""Run every shell example that README.md and docs/*.md mark as runnable.

The convention (docs/design.md, "Runnable examples"): a fenced block whose info string is
``sh run`` followed by the servers it needs, e.g. ```` ```sh run tcplog ````.  In it, a
line starting with ``$ `` is a command (``> `` continues it), and the lines after a command,
up to the next one, are what it prints (standard output and standard error together, as a
terminal shows them).  ``...`` alone on a line stands for any number of lines; ``[exit N]``
as the last output line is the command's exit status (0 otherwise).  A command with no
output lines must succeed, and what it prints is not checked.

Each named server is a real ``twistd`` plugin started once for the whole run, on free
loopback ports; in the example, its documented default port numbers (:data:`SERVERS`) are
replaced by the real ones, in commands and in expected output alike.  Commands run under
``bash`` (``set -o pipefail``) in a fresh directory, with this venv's ``netsuite`` and
``twistd`` first on the ``PATH``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.helpers import TwistdProcess

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")


@attrs.frozen
class Server:
    """How to start a server for the examples, and which documented ports to replace."""

    argv: tuple[str, ...]
    #: documented port -> the log line (regex, one group: the port) telling the real one
    ports: dict[int, str]


def _listening(label: str) -> str:
    return rf"\b{label} listening on \S+:(\d+)"


LOOPBACK = "tcp:0:interface=127.0.0.1"
SERVERS: dict[str, Server] = {
    "chat": Server(("chat", "--port", LOOPBACK, "--metrics", LOOPBACK),
                   {8086: _listening("chat"), 9186: _listening("metrics")}),
    "tcplog": Server(("tcplog", "--port", LOOPBACK, "--metrics", LOOPBACK),
                     {8088: _listening("tcplog"), 9188: _listening("metrics")}),
    "udpecho": Server(("udpecho", "--port", "0", "--metrics", LOOPBACK),
                      {8023: _listening("udpecho"), 9123: _listening("metrics")}),
    "rpc": Server(("rpc", "--xmlrpc", LOOPBACK, "--amp", LOOPBACK, "--jsonrpc", LOOPBACK,
                   "--gob", LOOPBACK, "--grpc", LOOPBACK, "--metrics", LOOPBACK),
                  {8808: _listening("xmlrpc"), 8809: _listening("amp"),
                   8085: _listening("jsonrpc"), 1234: _listening("gob"),
                   50051: _listening("grpc"), 9180: _listening("metrics")}),
    # Twisted's own static web server, for the HEAD client's examples.
    "web": Server(("web", "--listen", LOOPBACK, "--path", "."),
                  {8080: r"Site starting on (\d+)"}),
}


@attrs.frozen
class Command:
    text: str
    expected: tuple[str, ...]
    status: int


@attrs.frozen
class Example:
    path: Path
    line: int
    servers: tuple[str, ...]
    commands: tuple[Command, ...]

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and every page in docs/ (new pages are picked up as they appear)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def parse_commands(lines: list[str], where: str) -> tuple[Command, ...]:
    commands: list[Command] = []
    text: list[str] = []
    output: list[str] = []

    def finish() -> None:
        if not text:
            return
        status = 0
        if output and (match := re.fullmatch(r"\[exit (\d+)\]", output[-1].strip())):
            status = int(match.group(1))
            output.pop()
        commands.append(Command("\n".join(text), tuple(output), status))

    for line in lines:
        if line.startswith("$ "):
            finish()
            text, output = [line[2:]], []
        elif line.startswith("> ") and text and not output:
            text.append(line[2:])
        elif not text:
            raise ValueError(f"{where}: runnable example must start with a '$ ' command")
        else:
            output.append(line)
    finish()
    return tuple(commands)


def collect() -> list[Example]:
    """Every ``sh run`` block of the docs."""
    examples = []
    for path in doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            opening = FENCE.match(lines[index])
            index += 1
            if not opening:
                continue
            fence, indent = opening.group("fence"), len(opening.group("indent"))
            body: list[str] = []
            while index < len(lines) and not lines[index].strip().startswith(fence):
                body.append(lines[index][indent:])
                index += 1
            index += 1  # the closing fence
            words = opening.group("info").split()
            if words[:2] != ["sh", "run"]:
                continue
            start = index - len(body) - 1
            where = f"{path.relative_to(ROOT)}:{start}"
            unknown = [name for name in words[2:] if name not in SERVERS]
            if unknown:
                raise ValueError(f"{where}: unknown server(s) {unknown}; known: {list(SERVERS)}")
            examples.append(Example(path, start, tuple(words[2:]), parse_commands(body, where)))
    return examples


EXAMPLES = collect()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[int, int]]]:
    """Start servers on first use; each name maps documented ports to the real ones."""
    processes: list[TwistdProcess] = []

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> dict[int, int]:
            server = SERVERS[name]
            directory = tmp_path_factory.mktemp(f"{name}-server")
            (directory / "index.html").write_text("<p>netsuite</p>\n")
            process = TwistdProcess(*server.argv, cwd=directory)
            processes.append(process)
            self[name] = {documented: int(process.wait_for(pattern).group(1))
                          for documented, pattern in server.ports.items()}
            return self[name]

    try:
        yield Lazy()
    finally:
        for process in processes:
            process.stop()


def substitute(text: str, ports: dict[int, int]) -> str:
    for documented, real in ports.items():
        text = re.sub(rf"(?<![\w.]){documented}(?!\d)", str(real), text)
    return text


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` lines against ``actual`` ones; ``...`` matches any number of lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and expected[0].rstrip() == actual[0].rstrip() and \
        matches(expected[1:], actual[1:])


def test_examples_are_found() -> None:
    """The marker works: the docs this suite owns have runnable examples in them."""
    files = {example.path.name for example in EXAMPLES}
    assert {"README.md", "tcplog.md", "udpecho.md", "head.md", "operations.md"} <= files, files


def test_output_matching() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["...", "x"], ["x"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert not matches(["a"], ["a", "extra"])
    assert substitute("127.0.0.1:8088 port 8088, v1.8088, 80880", {8088: 4}) == (
        "127.0.0.1:4 port 4, v1.8088, 80880")


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example(example: Example, servers: dict[str, dict[int, int]], tmp_path: Path) -> None:
    ports: dict[int, int] = {}
    for name in example.servers:
        ports.update(servers[name])
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in example.commands:
        script = substitute(command.text, ports)
        result = subprocess.run(
            ["bash", "-c", "set -o pipefail\n" + script], cwd=tmp_path, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=60,
        )
        shown = f"$ {script}\n{result.stdout}[exit {result.returncode}]"
        assert result.returncode == command.status, shown
        if command.expected:
            expected = [substitute(line, ports) for line in command.expected]
            assert matches(expected, result.stdout.splitlines()), (
                shown + "\n--- expected ---\n" + "\n".join(expected))
