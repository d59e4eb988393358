"""The chat page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium against ``twistd chat --web``.

Two browser users and one raw-socket TCP user chat in one room, switch rooms, see
history, and the page says so when the server goes away.  Every wait is on a DOM
condition (or a line on the socket) with a timeout.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from tests.chat.web.browser import chromium, missing, texts, wait_until
from tests.helpers import TwistdProcess

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))


class TcpUser:
    """A raw TCP chat user on a blocking socket."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.lines: list[str] = []
        self.say(f"/nick {nick}")
        self.wait_for(lambda line: line.startswith("NICK ") and line.endswith(f" {nick}"))

    def say(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def wait_for(self, test: Any, timeout: float = 10) -> str:
        check = (lambda line: line == test) if isinstance(test, str) else test
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[seen:]:
                if check(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line matching {test!r}; got {self.lines}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; got {self.lines}")
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [line.decode() for line in done]


def element_text(driver: Any, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def type_line(driver: Any, text: str) -> None:
    box = driver.find_element("id", "input")
    box.send_keys(text + "\n")


def wait_log(driver: Any, needle: str, what: str) -> None:
    wait_until(driver, lambda d: needle in element_text(d, "log"), what=what)


def wait_room(driver: Any, room: str) -> None:
    wait_until(driver, lambda d: element_text(d, "room-name") == room, what=f"room {room}")


def wait_members(driver: Any, nicks: list[str]) -> None:
    wait_until(driver, lambda d: sorted(texts(d, "#members li")) == sorted(nicks),
               what=f"members {nicks}")


def open_page(driver: Any, url: str, nick: str) -> None:
    driver.get(url)
    wait_until(driver, lambda d: element_text(d, "status") == "connected", what="connected")
    wait_room(driver, "lobby")
    type_line(driver, f"/nick {nick}")
    wait_until(driver, lambda d: element_text(d, "me") == nick, what=f"nick {nick}")


def test_two_browsers_and_a_tcp_user_chat_switch_rooms_and_see_the_server_go() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1",
                       "--web", "tcp:0:interface=127.0.0.1", "--history", "20") as server:
        url = f"http://127.0.0.1:{server.port('chat-web')}/"
        nc = TcpUser(server.port("chat"), "nc")
        nc.say("said before the browsers came")
        with chromium() as alice, chromium(390, 760) as bob:
            open_page(alice, url, "alice")
            # History on entering the room, with its time.
            wait_log(alice, "said before the browsers came", "history")
            assert alice.execute_script(
                "return document.querySelector('#log li.hist time').dateTime").endswith("Z")
            open_page(bob, url, "bob")  # phone-sized window
            wait_members(alice, ["alice", "bob", "nc"])
            wait_members(bob, ["alice", "bob", "nc"])

            type_line(alice, "hello everyone")
            wait_log(bob, "hello everyone", "alice's message at bob")
            nc.wait_for("MSG alice hello everyone")
            nc.say("hi from the terminal")
            wait_log(alice, "hi from the terminal", "nc's message at alice")
            wait_log(bob, "hi from the terminal", "nc's message at bob")

            # bob opens the side panel and creates a room with the join form.
            bob.find_element("id", "panel-toggle").click()
            bob.find_element("id", "join-input").send_keys("dev\n")
            wait_room(bob, "dev")
            wait_members(bob, ["bob"])
            wait_members(alice, ["alice", "nc"])
            nc.wait_for("PART bob moved")
            type_line(bob, "anyone in dev?")

            # alice switches with the room list (it learns of dev by itself).
            wait_until(alice, lambda d: "#dev" in texts(d, "#rooms button span"),
                       what="dev in alice's room list")
            alice.find_element("css selector", "#rooms button[data-room='dev']").click()
            wait_room(alice, "dev")
            wait_log(alice, "anyone in dev?", "dev's history at alice")
            assert "hist" in alice.execute_script(
                "return [...document.querySelectorAll('#log li')]"
                ".find(li => li.textContent.includes('anyone in dev?')).className")
            nc.say("/join dev")
            nc.wait_for(lambda line: line.startswith("HIST ") and line.endswith(
                "MSG bob anyone in dev?"))
            wait_members(alice, ["alice", "bob", "nc"])
            type_line(alice, "/me waves in dev")
            wait_log(bob, "waves in dev", "alice's action at bob")
            nc.wait_for("ACTION alice waves in dev")

            # The server goes away: both pages say so.
            server.stop()
            for driver in (alice, bob):
                wait_until(driver, lambda d: element_text(d, "status") == "server gone",
                           what="status: server gone")
                banner = element_text(driver, "banner-text")
                assert banner.startswith("The server shut down. Reconnecting in "), banner
                assert driver.execute_script("return document.getElementById('banner').hidden") \
                    is False
        nc.sock.close()


def test_page_reconnects_by_itself_with_the_same_nick_and_room() -> None:
    with socket.socket() as probe:  # a fixed port, so the restarted server has the same URL
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ("chat", "--port", "none", "--web", f"tcp:{port}:interface=127.0.0.1")
    with chromium() as page:
        with TwistdProcess(*args) as first:
            first.port("chat-web")
            open_page(page, f"http://127.0.0.1:{port}/", "dora")
            type_line(page, "/join ops")
            wait_room(page, "ops")
        wait_until(page, lambda d: element_text(d, "status") == "server gone",
                   what="status: server gone")
        with TwistdProcess(*args) as server:
            wait_until(page, lambda d: element_text(d, "status") == "connected", timeout=20,
                       what="reconnected")
            wait_room(page, "ops")
            wait_until(page, lambda d: element_text(d, "me") == "dora", what="nick again")
            assert page.execute_script("return document.getElementById('banner').hidden")
            server.wait_for(r"chat nick guest\d+ -> dora")


def test_page_over_https_uses_wss(tls_files) -> None:
    key, cert = tls_files.key, tls_files.cert
    with TwistdProcess("chat", "--port", "none", "--web",
                       f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}") as server:
        url = f"https://127.0.0.1:{server.port('chat-web')}/"
        # The test's certificate is self-signed: this browser is told to accept it.
        with chromium(flags=("--ignore-certificate-errors",)) as page:
            open_page(page, url, "tess")
            assert page.execute_script("return location.protocol") == "https:"
            type_line(page, "/ping over-tls")
            wait_log(page, "PONG over-tls", "the PONG over wss")
        server.wait_for(r"chat nick guest\d+ -> tess")
