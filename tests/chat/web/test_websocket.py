"""The chat's WebSocket over real loopback sockets, from a raw WebSocket client:
chat with TCP users, the wire rules, bad input, limits, Origin, TLS."""

from __future__ import annotations

import struct

import pytest_twisted
from twisted.internet import reactor, ssl
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint, connectProtocol

from tests.chat.web.rawws import BINARY, CLOSE, CONT, TEXT, RawWebSocket, frame, handshake, open_ws
from tests.chat.web.server import WebChat


@pytest_twisted.ensureDeferred
async def test_browser_and_tcp_users_chat_in_one_room() -> None:
    chat = await WebChat.start(history=10)
    try:
        ws = chat.track(await open_ws(chat.web_port))
        await ws.wait_for("ROOM lobby")
        assert ws.lines[:2] == ["WELCOME guest1", "ROOM lobby"]
        tcp = await chat.tcp_client("nc")
        await ws.wait_for("NICK guest2 nc")
        ws.text("/nick webby")
        await tcp.wait_for(lambda line: line == "NICK guest1 webby")
        ws.text("hello from the browser")
        await tcp.wait_for("MSG webby hello from the browser")
        tcp.sendLine(b"hello from nc")
        await ws.wait_for("MSG nc hello from nc")
        ws.text("/who")
        who = await ws.wait_for(lambda line: line.startswith("WHO "))
        assert sorted(who.split()[1:]) == ["nc", "webby"]
        ws.text("/me waves")
        await tcp.wait_for("ACTION webby waves")
        tcp.sendLine(b"/msg webby psst")
        await ws.wait_for("PRIV nc psst")
        # Rooms: the browser user moves, the TCP user follows and gets the history.
        ws.text("/join #dev")
        await ws.wait_for("ROOM dev")
        await tcp.wait_for("PART webby moved")
        ws.text("first in dev")
        tcp.sendLine(b"/join dev")
        await tcp.wait_for("ROOM dev")
        hist = await tcp.wait_for(lambda line: line.startswith("HIST "))
        assert hist.endswith(" MSG webby first in dev")
        await ws.wait_for("JOIN nc")
        ws.text("/rooms")
        await ws.wait_for(lambda line: line.startswith("ROOMS ") and "dev:2" in line)
        assert not any(line.startswith("MSG webby") for line in ws.lines)  # never echoed
        assert chat.web.stats.clients == 1
    finally:
        await chat.stop()
    assert chat.web.stats.clients == 0


@pytest_twisted.ensureDeferred
async def test_each_message_is_one_line_trailing_newline_optional() -> None:
    chat = await WebChat.start()
    try:
        ws = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        await ws.wait_for("NICK guest2 nc")
        for text in ("plain", "with newline\n", "with crlf\r\n", "", "//slash"):
            ws.text(text)
        ws.send(BINARY, "binary é".encode())
        ws.text("last")
        await tcp.wait_for("MSG guest1 last")
        got = [line for line in tcp.lines if line.startswith("MSG ")]
        assert got == ["MSG guest1 plain", "MSG guest1 with newline", "MSG guest1 with crlf",
                       "MSG guest1 /slash", "MSG guest1 binary é", "MSG guest1 last"]
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_fragmented_message_and_split_utf8_character() -> None:
    chat = await WebChat.start()
    try:
        ws = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        await ws.wait_for("NICK guest2 nc")
        e_acute = "é".encode()
        ws.send(TEXT, b"caf" + e_acute[:1], fin=False)
        ws.send(CONT, e_acute[1:] + b" au", fin=False)
        ws.send(CONT, b" lait", fin=True)
        await tcp.wait_for("MSG guest1 café au lait")
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_binary_bad_utf8_gets_err_and_the_connection_stays() -> None:
    chat = await WebChat.start()
    try:
        ws = chat.track(await open_ws(chat.web_port))
        ws.send(BINARY, b"caf\xe9")
        await ws.wait_for(lambda line: line.startswith("ERR bad-encoding "))
        ws.text("/ping still-here")
        await ws.wait_for("PONG still-here")
        assert ws.close_code is None
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_bad_utf8_text_gets_err_then_close_1007_others_untouched() -> None:
    chat = await WebChat.start()
    try:
        bad = chat.track(await open_ws(chat.web_port))
        good = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        bad.send(TEXT, b"caf\xe9 au lait")
        await bad.wait_closed()
        assert bad.lines[-1].startswith("ERR bad-encoding ")
        assert bad.close_code == 1007
        await tcp.wait_for("PART guest1 disconnected")
        await good.wait_for("PART guest1 disconnected")
        good.text("still fine")
        await tcp.wait_for("MSG guest2 still fine")
        assert chat.web.stats.closed == {"bad-encoding": 1}
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_message_over_max_line_gets_err_bye_and_close_1009() -> None:
    chat = await WebChat.start(max_line=100)
    try:
        ws = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        await ws.wait_for("NICK guest2 nc")
        ws.text("a" * 100)  # exactly the limit
        ws.text("b" * 100 + "\r\n")  # the line end does not count
        await tcp.wait_for("MSG guest1 " + "b" * 100)
        ws.text("c" * 101)
        await ws.wait_closed()
        assert ws.lines[-2:] == ["ERR line-too-long lines are limited to 100 bytes",
                                 "BYE line-too-long"]
        assert ws.close_code == 1009
        await tcp.wait_for("PART guest1 line-too-long")
        assert not any("ccc" in line for line in tcp.lines)
        assert chat.web.stats.closed == {"too-big": 1}
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_oversize_message_refused_before_it_is_all_sent() -> None:
    """A frame announcing 1 GiB is refused once its first bytes pass the limit: the
    server neither waits for nor buffers the rest."""
    chat = await WebChat.start(max_line=1000)
    try:
        ws = chat.track(await open_ws(chat.web_port))
        mask = b"\x00\x00\x00\x00"
        head = bytes([0x80 | TEXT, 0x80 | 127]) + struct.pack("!Q", 1 << 30) + mask
        ws.transport.write(head + b"z" * 4000)
        await ws.wait_for("BYE line-too-long")
        await ws.wait_closed()
        assert ws.close_code == 1009
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_oversize_in_many_small_fragments() -> None:
    chat = await WebChat.start(max_line=300)
    try:
        ws = chat.track(await open_ws(chat.web_port))
        ws.send(BINARY, b"x" * 100, fin=False)
        for _ in range(10):
            ws.send(CONT, b"x" * 100, fin=False)
        await ws.wait_closed()
        assert ws.close_code == 1009
        assert "BYE line-too-long" in ws.lines
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_origin_rules() -> None:
    chat = await WebChat.start(origins=["https://chat.example.com"])
    port = chat.web_port
    try:
        accepted = [
            dict(origin=None),  # not from a page
            dict(origin=f"http://127.0.0.1:{port}"),  # the page's own origin
            dict(origin=f"HTTP://127.0.0.1:{port}/"),
            dict(origin="https://chat.example.com"),  # --web-origin
            dict(origin="https://chat.example.com:443"),
            dict(origin="http://example.net", host="example.net:80"),  # default port
        ]
        for kwargs in accepted:
            ws = chat.track(await open_ws(port, welcome=False, **kwargs))
            assert ws.status == 101, kwargs
            await ws.wait_for(lambda line: line.startswith("WELCOME "))
        refused = ["http://evil.example", f"https://127.0.0.1:{port}", "null",
                   f"http://127.0.0.1:{port + 1}", "http://chat.example.com", "garbage"]
        for origin in refused:
            ws = chat.track(await open_ws(port, origin=origin, welcome=False))
            assert ws.status == 403, origin
            assert ws.head.lower().count(b"content-length: 19") == 1
            await ws.close()
        assert chat.web.stats.refused == {"origin": len(refused)}
        assert chat.web.stats.connections == len(accepted)
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_max_clients_shared_with_tcp() -> None:
    chat = await WebChat.start(max_clients=1)
    try:
        await chat.tcp_client("nc")
        ws = chat.track(await open_ws(chat.web_port, welcome=False))
        await ws.wait_closed()
        assert ws.lines == ["ERR max-clients the server is full (1 clients)", "BYE max-clients"]
        assert ws.close_code == 1000
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_idle_timeout_and_flood_hold_on_the_websocket() -> None:
    chat = await WebChat.start(idle_timeout=0.5, flood=2)
    try:
        ws = chat.track(await open_ws(chat.web_port))
        for i in range(5):
            ws.text(f"spam {i}")
        await ws.wait_for(lambda line: line.startswith("ERR flood "))
        await ws.wait_closed(timeout=10)
        assert ws.lines[-1] == "BYE idle-timeout"
        assert ws.close_code == 1000
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_client_close_frame_and_quit() -> None:
    chat = await WebChat.start()
    try:
        closer = chat.track(await open_ws(chat.web_port))
        quitter = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        closer.send(CLOSE, struct.pack("!H", 1000) + b"bye")
        await closer.wait_closed()
        assert closer.close_code == 1000  # the server answered the close
        await tcp.wait_for("PART guest1 disconnected")
        quitter.text("/quit off to lunch")
        await quitter.wait_closed()
        assert quitter.lines[-1] == "BYE quit"
        await tcp.wait_for("PART guest2 quit off to lunch")
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_unmasked_frame_is_a_protocol_error_1002() -> None:
    chat = await WebChat.start()
    try:
        ws = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        ws.transport.write(frame(TEXT, b"no mask", mask=False))
        await ws.wait_closed()
        assert ws.close_code == 1002
        await tcp.wait_for("PART guest1 disconnected")
        assert not any("no mask" in line for line in tcp.lines)
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_wss_on_an_ssl_endpoint(tls_files) -> None:
    description = (f"ssl:0:interface=127.0.0.1:privateKey={tls_files.key}"
                   f":certKey={tls_files.cert}")
    chat = await WebChat.start(web=description)
    try:
        client = RawWebSocket(handshake("/ws", f"127.0.0.1:{chat.web_port}",
                                        f"https://127.0.0.1:{chat.web_port}"))
        endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", chat.web_port,
                                      ssl.CertificateOptions(verify=False))
        await connectProtocol(endpoint, client)
        chat.track(client)
        assert await client.answered == 101
        await client.wait_for("ROOM lobby")
        client.text("/ping tls")
        await client.wait_for("PONG tls")
    finally:
        await chat.stop()


@pytest_twisted.ensureDeferred
async def test_frames_sent_with_the_handshake_are_not_lost() -> None:
    """A client that sends its first lines in the same packet as its handshake."""
    chat = await WebChat.start()
    try:
        request = handshake("/ws", f"127.0.0.1:{chat.web_port}")
        client = RawWebSocket(request + frame(TEXT, b"/ping early") + frame(TEXT, b"/who"))
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", chat.web_port), client)
        chat.track(client)
        await client.wait_for("PONG early")
        await client.wait_for("WHO guest1")
    finally:
        await chat.stop()
