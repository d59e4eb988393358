"""``twistd chat --web``: options, the service, metrics, the page's files, the real process."""

from __future__ import annotations

import http.client
import socket

import pytest
from twisted.python import usage

from netsuite.chat._tap import Options, makeService
from netsuite.chat.web import normalize_origin
from netsuite.chat.web._site import PAGE_FILES, heartbeat_for, page_file
from tests.chat.web.rawws import handshake
from tests.helpers import TLSFiles, TwistdProcess


def test_web_options() -> None:
    options = Options()
    options.parseOptions(["--web", "8080", "--web-origin", "https://Chat.Example.com/",
                          "--web-origin", "http://10.0.0.5:8080"])
    assert options["web"] == "8080"
    assert options["web-origin"] == ["https://chat.example.com", "http://10.0.0.5:8080"]
    defaults = Options()
    defaults.parseOptions([])
    assert defaults["web"] == "none"


@pytest.mark.parametrize(("args", "web"), [
    ([], None),
    (["--web", "none"], None),
    (["--web", "8080"], "tcp:8080"),
    (["--web", "8080", "--interface", "127.0.0.1"], "tcp:8080:interface=127.0.0.1"),
    (["--web", "ssl:8443:privateKey={key}:certKey={cert}"], "ssl:8443:privateKey={key}"),
])
def test_web_listener_description(args: list[str], web: str | None, tls_files: TLSFiles) -> None:
    from twisted.internet.task import Clock

    files = {"key": tls_files.key, "cert": tls_files.cert}
    args = [arg.format(**files) for arg in args]
    web = None if web is None else web.format(**files)
    options = Options()
    options.parseOptions(args)
    service = makeService(options, reactor=Clock())
    if web is None:
        assert service.web is None
    else:
        assert service.web.description.startswith(web)


@pytest.mark.parametrize("args", [
    ["--web-origin", "chat.example.com"],
    ["--web-origin", "ftp://chat.example.com"],
    ["--web-origin", "https://chat.example.com/path"],
    ["--web", ""],
])
def test_web_options_rejected(args: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        Options().parseOptions(args)


@pytest.mark.parametrize(("text", "origin"), [
    ("http://Example.COM", "http://example.com"),
    ("http://example.com:80", "http://example.com"),
    ("https://example.com:443/", "https://example.com"),
    ("https://example.com:8443", "https://example.com:8443"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("null", None),
    ("http://user@example.com", None),
    ("http://example.com:99999", None),
    ("http://example.com/?q", None),
])
def test_normalize_origin(text: str, origin: str | None) -> None:
    assert normalize_origin(text) == origin


def test_service_with_web_listener_and_metrics() -> None:
    from prometheus_client.exposition import generate_latest
    from twisted.internet.task import Clock

    from netsuite._metrics import MetricsService

    options = Options()
    options.parseOptions(["--port", "tcp:0", "--web", "tcp:0",
                          "--metrics", "tcp:0:interface=127.0.0.1"])
    service = makeService(options, reactor=Clock())
    assert service.web is not None and service.web.label == "chat-web"
    assert service.web.parent is service
    metrics = [s for s in service if isinstance(s, MetricsService)]
    assert len(metrics) == 1
    service.web.stats.connected()
    text = generate_latest(metrics[0].registry).decode()
    assert "netsuite_chat_websocket_clients 1.0" in text
    assert "netsuite_chat_websocket_connections_total 1.0" in text


def test_page_files_are_package_data_and_self_contained() -> None:
    for name in PAGE_FILES:
        text = page_file(name).decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    html = page_file("index.html").decode()
    assert 'src="chat.js"' in html and 'href="chat.css"' in html
    assert 'name="viewport"' in html
    js = page_file("chat.js").decode()
    assert 'location.protocol === "https:" ? "wss:" : "ws:"' in js


def test_heartbeat_well_inside_the_idle_timeout() -> None:
    assert heartbeat_for(60) == 20
    assert heartbeat_for(5) == pytest.approx(5 / 3)
    assert heartbeat_for(0) == 25  # no idle timeout: still keep proxies from closing it
    assert heartbeat_for(3600) == 25


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_twistd_serves_page_and_websocket_and_says_bye() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--web",
                       "tcp:0:interface=127.0.0.1", "--idle-timeout", "9",
                       "--max-line", "512") as server:
        web = server.port("chat-web")
        page = _get(web, "/")
        assert page.status == 200
        assert page.getheader("content-type") == "text/html; charset=utf-8"
        assert "default-src 'none'" in page.getheader("content-security-policy")
        assert b'data-heartbeat="3.0"' in page.body and b'data-max-line="512"' in page.body
        assert _get(web, "/chat.js").getheader("content-type").startswith("text/javascript")
        assert _get(web, "/chat.css").getheader("content-type").startswith("text/css")
        assert _get(web, "/nothing-here").status == 404
        plain = _get(web, "/ws")
        assert plain.status == 400 and b"not a WebSocket handshake" in plain.body
        sock = socket.create_connection(("127.0.0.1", web), timeout=10)
        sock.sendall(handshake("/ws", f"127.0.0.1:{web}"))
        seen = b""
        while b"ROOM lobby\n" not in seen:
            seen += sock.recv(4096)
        assert seen.startswith(b"HTTP/1.1 101 ")
        server.stop()
        while chunk := sock.recv(4096):
            seen += chunk
        assert b"BYE shutdown\n" in seen
        assert seen.endswith(b"\x88\x02\x03\xe8")  # then the close frame, status 1000
        sock.close()
    assert "Traceback" not in server.log
