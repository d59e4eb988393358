"""Every clause of the chat wire protocol (docs/chat.md), in memory (StringTransport + Clock)."""

from __future__ import annotations

import pytest

from netsuite.chat import RoomLimits
from tests.chat.harness import Chat


@pytest.fixture
def chat() -> Chat:
    return Chat()


def three(chat: Chat):
    a, b, c = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
    for x in (a, b, c):
        x.take()
    return a, b, c


def test_welcome_guest_names_and_join(chat: Chat) -> None:
    a = chat.connect()
    assert a.take() == ["WELCOME guest1", "ROOM lobby"]
    b = chat.connect()
    assert b.take() == ["WELCOME guest2", "ROOM lobby"]
    assert a.take() == ["JOIN guest2"]


def test_guest_name_skips_a_taken_one(chat: Chat) -> None:
    a = chat.connect("GUEST2")
    b = chat.connect()
    assert b.take() == ["WELCOME guest3", "ROOM lobby"]
    assert a.nick == "GUEST2"


def test_broadcast_without_echo(chat: Chat) -> None:
    a, b, c = three(chat)
    a.send("hello world\n")
    assert a.take() == []
    assert b.take() == ["MSG alice hello world"]
    assert c.take() == ["MSG alice hello world"]


def test_crlf_stripped_and_utf8_passed(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("héllo ☃\r\n".encode())
    assert b.take() == ["MSG alice héllo ☃"]


def test_double_slash_escapes(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("//nick not a command\n")
    assert b.take() == ["MSG alice /nick not a command"]


def test_empty_line_is_ignored(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("\n\r\n")
    assert a.take() == [] and b.take() == []


def test_nick_change_seen_by_everyone_including_user(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/nick alice2\n")
    assert a.take() == ["NICK alice alice2"]
    assert b.take() == ["NICK alice alice2"]
    b.send("/who\n")
    [who] = b.take()
    assert sorted(who.split()) == ["WHO", "alice2", "bob", "carol"]


def test_nick_case_insensitive_unique(chat: Chat) -> None:
    a, b, _ = three(chat)
    b.send("/nick ALICE\n")
    [line] = b.take()
    assert line.startswith("ERR nick-in-use ")
    assert a.take() == []
    a.send("/nick Alice\n")  # your own name in another case is fine
    assert a.take() == ["NICK alice Alice"]


@pytest.mark.parametrize("name", ["", "a b", "x" * 33, "é", "a.b", "a!"])
def test_bad_nick(chat: Chat, name: str) -> None:
    a = chat.connect()
    a.take()
    a.send(f"/nick {name}\n")
    [line] = a.take()
    assert line.startswith("ERR bad-nick ")
    assert "  " not in line  # the code, one space, then the text (an empty name is named)
    assert a.nick == "guest1"


def test_nick_limits_accepted(chat: Chat) -> None:
    a = chat.connect()
    a.take()
    a.send("/nick " + "A_b-9" * 6 + "xy\n")
    assert a.take() == ["NICK guest1 " + "A_b-9" * 6 + "xy"]


def test_who_includes_asker(chat: Chat) -> None:
    a, _, _ = three(chat)
    a.send("/who\n")
    assert a.take() == ["WHO alice bob carol"]


def test_private_message(chat: Chat) -> None:
    a, b, c = three(chat)
    a.send("/msg BOB psst, a secret\n")
    assert b.take() == ["PRIV alice psst, a secret"]
    assert a.take() == [] and c.take() == []


def test_private_message_errors(chat: Chat) -> None:
    a, _, _ = three(chat)
    a.send("/msg nobody hi\n")
    [line] = a.take()
    assert line.startswith("ERR no-such-nick nobody")
    a.send("/msg bob\n")
    assert a.take() == ["INFO usage: /msg NAME TEXT"]


def test_me_action(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/me waves\n")
    assert b.take() == ["ACTION alice waves"]
    assert a.take() == []


def test_ping_pong(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/ping\n/ping tok 42\n")
    assert a.take() == ["PONG", "PONG tok 42"]
    assert b.take() == []


def test_quit_with_reason(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/quit gone fishing\n")
    assert a.take() == ["BYE quit"]
    assert a.closed and not a.transport.aborted
    assert b.take() == ["PART alice quit gone fishing"]
    assert chat.stats.drops == {"quit": 1}


def test_quit_without_reason_and_disconnect(chat: Chat) -> None:
    a, b, c = three(chat)
    a.send("/QUIT\n")
    assert b.take() == ["PART alice quit"]
    c.transport.abortConnection()
    chat.turn()
    assert b.take() == ["PART carol disconnected"]
    assert chat.room.who() == ["bob"]


def test_help(chat: Chat) -> None:
    a = chat.connect()
    a.take()
    a.send("/help\n")
    lines = a.take()
    assert len(lines) >= 7 and all(line.startswith("INFO ") for line in lines)
    for command in ("/nick", "/who", "/msg", "/me", "/ping", "/quit", "/help", "/join ROOM",
                    "/rooms"):
        assert any(command in line for line in lines)


def test_unknown_command(chat: Chat) -> None:
    a = chat.connect()
    a.take()
    a.send("/dance now\n")
    [line] = a.take()
    assert line.startswith("ERR unknown-command /dance")
    assert not a.closed


def test_line_too_long_closes(chat: Chat) -> None:
    chat = Chat(max_line=10)
    a, b = chat.connect("a"), chat.connect("b")
    a.take(), b.take()
    a.send("0123456789\r\n")  # exactly the limit, not counting the line end
    assert b.take() == ["MSG a 0123456789"]
    a.send("01234567890\n")
    lines = a.take()
    assert lines[0].startswith("ERR line-too-long ") and lines[-1] == "BYE line-too-long"
    assert a.closed
    assert b.take() == ["PART a line-too-long"]


def test_line_too_long_without_newline(chat: Chat) -> None:
    chat = Chat(max_line=10)
    a = chat.connect()
    a.take()
    a.send("x" * 10 + "\r")
    assert not a.closed  # 10 bytes + \r may still end with \n
    a.send("x")
    assert a.take()[0].startswith("ERR line-too-long")
    assert a.closed


def test_bad_utf8_dropped_connection_stays(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send(b"caf\xe9\nnext\n")
    [line] = a.take()
    assert line.startswith("ERR bad-encoding ")
    assert b.take() == ["MSG alice next"]
    assert not a.closed


def test_idle_timeout(chat: Chat) -> None:
    chat = Chat(idle_timeout=5)
    a, b = chat.connect("a"), chat.connect("b")
    a.take(), b.take()
    for _ in range(8):
        chat.advance(1)
        b.send("/ping\n")
    assert a.closed and not b.closed
    assert a.take() == ["BYE idle-timeout"]
    assert "PART a idle-timeout" in b.take()
    assert chat.stats.drops == {"idle-timeout": 1}


def test_idle_timeout_not_before_time(chat: Chat) -> None:
    chat = Chat(idle_timeout=5)
    a = chat.connect()
    chat.advance(4.5)
    assert not a.closed
    chat.advance(1.5)
    assert a.closed


def test_flood_limit(chat: Chat) -> None:
    chat = Chat(flood=3)
    a, b = chat.connect("a"), chat.connect("b")
    chat.advance(1 - chat.clock.seconds() % 1)
    a.take(), b.take()
    a.send("1\n2\n3\n4\n5\n")
    assert b.take() == ["MSG a 1", "MSG a 2", "MSG a 3"]
    [err] = a.take()
    assert err.startswith("ERR flood ")
    chat.advance(1)
    a.send("6\n")
    assert b.take() == ["MSG a 6"]


def test_flood_for_ten_seconds_drops(chat: Chat) -> None:
    chat = Chat(flood=2)
    a, b = chat.connect("a"), chat.connect("b")
    a.take(), b.take()
    for _ in range(12):
        if a.closed:
            break
        a.send("x\n" * 5)
        chat.advance(1)
    assert a.closed
    assert a.take()[-1] == "BYE flood"
    assert "PART a flood" in b.take()


def test_flood_pauses_reset_the_streak(chat: Chat) -> None:
    chat = Chat(flood=2)
    a = chat.connect("a")
    for _ in range(8):
        a.send("x\n" * 5)
        chat.advance(1)
        chat.advance(1)  # a quiet second in between
    assert not a.closed


def test_max_clients(chat: Chat) -> None:
    chat = Chat(max_clients=2)
    a, b = chat.connect("a"), chat.connect("b")
    a.take(), b.take()
    c = chat.connect()
    lines = c.take()
    assert lines[0].startswith("ERR max-clients ") and lines[1] == "BYE max-clients"
    assert c.closed
    assert a.take() == [] and b.take() == []
    assert chat.stats.drops == {"max-clients": 1} and chat.stats.clients == 2
    b.send("/quit\n")
    d = chat.connect()
    assert d.take()[0].startswith("WELCOME ")


def test_slow_consumer_dropped(chat: Chat) -> None:
    chat = Chat(max_backlog=1000)
    a, b, c = three(chat)
    b.protocol.pauseProducing()  # b's socket is full ...
    # ... for longer than congestion_grace: no longer holds the room back
    chat.advance(RoomLimits().congestion_grace + 0.05)
    for i in range(30):
        a.send(f"message {i:04d} " + "x" * 40 + "\n")
    assert b.transport.aborted
    got = c.take()
    assert "PART bob slow-consumer" in got
    # the others went on at full speed: c got all 30 messages
    assert len([line for line in got if line.startswith("MSG alice message")]) == 30
    a.send("after\n")
    assert c.take() == ["MSG alice after"]
    assert chat.stats.drops == {"slow-consumer": 1}


def test_paused_member_gets_backlog_on_resume(chat: Chat) -> None:
    a, b, _ = three(chat)
    b.protocol.pauseProducing()
    a.send("one\n")
    a.send("two\n")
    assert b.take() == []
    b.protocol.resumeProducing()
    chat.turn()
    assert b.take() == ["MSG alice one", "MSG alice two"]


def test_order_kept_between_room_and_private_lines(chat: Chat) -> None:
    a, b, c = three(chat)
    a.send("m1\n", turn=False)
    c.send("c1\n", turn=False)
    a.send("/msg bob p1\n", turn=False)
    a.send("m2\n", turn=False)
    b.send("/ping x\n", turn=False)
    chat.turn()
    assert b.take() == ["MSG alice m1", "MSG carol c1", "PRIV alice p1", "MSG alice m2", "PONG x"]
    assert c.take() == ["MSG alice m1", "MSG alice m2"]
    assert a.take() == ["MSG carol c1"]


def test_member_joining_mid_turn_sees_only_later_lines(chat: Chat) -> None:
    a = chat.connect("a")
    a.take()
    a.send("before\n", turn=False)
    b = chat.connect()  # turns run here
    a.send("after\n")
    # "before" was said before b entered: b has it as history, not as a message
    assert b.take() == ["WELCOME guest2", "ROOM lobby",
                        "HIST 1970-01-12T13:46:40.000Z MSG a before", "MSG a after"]


def test_shutdown_sends_bye_and_fires(chat: Chat) -> None:
    a, b, c = three(chat)
    a.send("last words\n", turn=False)
    done = chat.room.shutdown()
    assert b.take() == ["MSG alice last words", "BYE shutdown"]
    assert a.take() == ["BYE shutdown"]
    assert c.take()[-1] == "BYE shutdown"
    assert all(x.closed for x in (a, b, c))
    assert done.called
    late = chat.connect()
    assert late.take() == ["BYE shutdown"] and late.closed


def test_shutdown_times_out_on_stuck_client() -> None:
    chat = Chat(shutdown_timeout=3)
    a = chat.connect()
    a.transport.loseConnection = lambda: None  # never completes
    done = chat.room.shutdown()
    assert not done.called
    chat.advance(3)
    assert done.called and a.transport.aborted


def test_stats_counters(chat: Chat) -> None:
    a, _, _ = three(chat)
    before = chat.stats.messages_out
    a.send("hi\n")
    assert chat.stats.messages_out - before == 2
    assert chat.stats.clients == 3 and chat.stats.connections == 3
    assert chat.stats.bytes_in > 0 and chat.stats.bytes_out > 0
    assert chat.stats.messages_in >= 4


def test_input_paced_while_others_are_backed_up(chat: Chat) -> None:
    a, b, c = three(chat)
    b.protocol.pauseProducing()  # b is behind, within its allowance
    big = b"".join(b"msg %05d\n" % i for i in range(20000))
    a.send(big)
    assert a.transport.producerState == "paused"  # a stopped being read
    assert len(c.take()) < 20000
    b.protocol.resumeProducing()
    for _ in range(200):
        chat.turn()
        b.take()
        if a.transport.producerState == "producing":
            break
    got = c.take()
    assert got[-1] == "MSG alice msg 19999"


def test_errors_counted_by_code(chat: Chat) -> None:
    a = chat.connect()
    a.send("/nope\n/nick bad nick\n/msg ghost hi\n")
    assert chat.stats.errors == {"unknown-command": 1, "bad-nick": 1, "no-such-nick": 1}


def test_idle_timeout_zero_means_never() -> None:
    chat = Chat(idle_timeout=0)
    a = chat.connect()
    chat.advance(3600)
    assert not a.closed
    assert chat.clock.getDelayedCalls() == []  # no sweep timer at all


def test_no_timer_per_connection() -> None:
    chat = Chat(idle_timeout=5)
    for _ in range(50):
        chat.connect()
    chat.turn()
    assert len(chat.clock.getDelayedCalls()) == 1  # the room's one idle sweep


def test_heartbeats_do_not_count_against_flood() -> None:
    chat = Chat(flood=1)
    a, b = chat.connect("a"), chat.connect("b")
    chat.advance(1 - chat.clock.seconds() % 1)
    a.take(), b.take()
    a.send("/ping\nhello\n/PING x\n")
    assert a.take() == ["PONG", "PONG x"]
    assert b.take() == ["MSG a hello"]
    a.send("/who\n")  # other commands do count
    assert a.take()[0].startswith("ERR flood ")


def test_blank_action_and_private_text_get_usage(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/me   \n/msg bob   \n")
    assert a.take() == ["INFO usage: /me TEXT", "INFO usage: /msg NAME TEXT"]
    assert b.take() == []


def test_half_close_gets_answers_then_closes(chat: Chat) -> None:
    a, b, _ = three(chat)
    a.send("/who\nbye all\n", turn=False)
    a.protocol.readConnectionLost()  # the client shut down its sending side
    chat.turn()
    assert a.take() == ["WHO alice bob carol"]
    assert a.closed and not a.transport.aborted
    assert b.take() == ["MSG alice bye all", "PART alice disconnected"]


def test_quit_is_honoured_while_flooding() -> None:
    chat = Chat(flood=2)
    a, b = chat.connect("a"), chat.connect("b")
    chat.advance(1 - chat.clock.seconds() % 1)
    a.take(), b.take()
    a.send("1\n2\n3\n4\n/QUIT bye now\n")  # over the limit in this second, then /quit
    got = a.take()
    assert got[0].startswith("ERR flood ") and got[-1] == "BYE quit"
    assert a.closed and not a.transport.aborted
    assert b.take() == ["MSG a 1", "MSG a 2", "PART a quit bye now"]
    assert chat.stats.drops == {"quit": 1}


def test_quit_lookalikes_still_count_against_flood() -> None:
    chat = Chat(flood=1)
    a, _ = chat.connect("a"), chat.connect("b")
    chat.advance(1 - chat.clock.seconds() % 1)
    a.take()
    a.send("x\n/quitter\n")
    assert a.take()[0].startswith("ERR flood ") and not a.closed
