"""Screenshots of the chat page for the docs (desktop and phone sizes).

    .venv/bin/python -m tests.chat.web.screenshots docs/images

Starts ``twistd chat --web``, has two terminal users talk in a room so that it has
history, opens the page in headless Chromium, joins that room and saves
``chat-web-desktop.png`` and ``chat-web-phone.png``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from tests.chat.web.browser import chromium, missing, wait_until
from tests.helpers import TwistdProcess


def tcp_user(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"/nick {nick}\n".encode())
    return sock


def read_until(sock: socket.socket, text: bytes) -> None:
    seen = b""
    while text not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {text!r}")
        seen += chunk


def main(folder: str) -> None:
    reason = missing()
    if reason:
        sys.exit(reason)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, size in (("desktop", (1100, 620)), ("phone", (390, 760))):
        with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1",
                           "--web", "tcp:0:interface=127.0.0.1") as server:
            shoot(server.port("chat"), server.port("chat-web"), size,
                  out / f"chat-web-{name}.png")


def shoot(port: int, web: int, size: tuple[int, int], path: Path) -> None:
    bob = tcp_user(port, "bob")
    bob.sendall(b"/join dev\n")
    read_until(bob, b"ROOM dev")
    ada = tcp_user(port, "ada")
    ada.sendall(b"/join dev\n")
    read_until(bob, b"JOIN ada")
    talk = [
        (ada, "morning! the release branch is cut"),
        (bob, "great, I'll start the load test on staging"),
        (ada, "/me pours coffee"),
        (bob, "fan-out numbers look good: 2k clients, no drops"),
    ]
    for sock, line in talk:
        sock.sendall(line.encode() + b"\n")
    read_until(ada, b"no drops")
    with chromium(*size) as driver:
        driver.get(f"http://127.0.0.1:{web}/")
        wait_until(driver, lambda d: d.find_element("id", "status").text == "connected",
                   what="connected")
        box = driver.find_element("id", "input")
        box.send_keys("/nick carol\n")
        box.send_keys("/join dev\n")
        wait_until(driver, lambda d: d.find_element("id", "room-name").text == "dev",
                   what="room dev")
        ada.sendall(b"hi carol! welcome to #dev\n")
        wait_until(driver, lambda d: "welcome to #dev" in d.find_element("id", "log").text,
                   what="ada's greeting")
        box.send_keys("thanks! reading the history now\n")
        read_until(ada, b"reading the history")
        wait_until(driver, lambda d: len(d.find_elements("css selector", "#members li")) == 3,
                   what="three members")
        driver.save_screenshot(str(path))
    ada.close()
    bob.close()

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
