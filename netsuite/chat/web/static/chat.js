// netsuite chat page: speaks the chat's line protocol over the WebSocket at ./ws.
// Each message to the server is one line; each message from it holds whole lines.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const HEARTBEAT_MS = Math.max(0.5, parseFloat(body.dataset.heartbeat) || 25) * 1000;
  const MAX_LINE = parseInt(body.dataset.maxLine, 10) || 4096;
  const MAX_ROWS = 1000;  // older rows are removed from the page
  const HEARTBEAT_TOKEN = "hb";
  const store = window.sessionStorage;
  const encoder = new TextEncoder();

  const state = {
    ws: null,
    me: "",
    room: "",
    members: [],
    welcomed: false,
    bye: "",          // the reason of the last BYE, if the server said goodbye
    quit: false,      // the user typed /quit: do not reconnect by ourselves
    attempt: 0,       // failed connects in a row (backoff exponent)
    retryAt: 0,
    retryTimer: null,
    countdown: null,
    beat: null,
    lastSent: 0,
    roomsTimer: null,
    histShown: false,
    restoring: false,  // the next ROOM is the first after WELCOME
    wantRoom: store.getItem("room"),
    wantNick: store.getItem("nick"),
  };

  // -- connection -------------------------------------------------------------------

  function wsURL() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    return url.href;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdown);
    state.retryTimer = state.countdown = null;
    if (state.ws) return;
    state.quit = false;
    state.bye = "";
    state.welcomed = false;
    setStatus("connecting", "connecting\u2026");
    let ws;
    try {
      ws = new WebSocket(wsURL());
    } catch (e) {
      onClose();
      return;
    }
    state.ws = ws;
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      for (const line of event.data.split("\n")) {
        if (line) handle(line);
      }
    };
    ws.onclose = () => {
      if (state.ws === ws) onClose();
    };
  }

  function onClose() {
    state.ws = null;
    clearInterval(state.beat);
    state.beat = null;
    if (state.welcomed) state.attempt = 0;  // it worked for a while: start the backoff over
    state.welcomed = false;
    $("members").classList.add("stale");
    if (state.quit) {
      setStatus("offline", "offline");
      showBanner("You left the chat.", "left");
      return;
    }
    let why = "The server is gone.";
    if (state.bye === "shutdown") why = "The server shut down.";
    else if (state.bye) why = `The server closed the connection (${state.bye}).`;
    // Polite reconnects: 1, 2, 4, 8, 16, then every 30 seconds, each +/- 25 %.
    const base = Math.min(30, 2 ** state.attempt);
    state.attempt = Math.min(state.attempt + 1, 6);
    const delay = base * (0.75 + Math.random() * 0.5) * 1000;
    state.retryAt = Date.now() + delay;
    state.retryTimer = setTimeout(connect, delay);
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      showBanner(`${why} Reconnecting in ${seconds} s\u2026`, "gone");
    };
    tick();
    state.countdown = setInterval(tick, 1000);
    setStatus("offline", "server gone");
  }

  function reconnectNow() {
    if (!state.ws) {
      state.attempt = 0;
      connect();
    }
  }

  function send(line) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(line);
    state.lastSent = Date.now();
    return true;
  }

  function startHeartbeat() {
    clearInterval(state.beat);
    // Any line keeps the connection alive; send /ping only when nothing else went out.
    state.beat = setInterval(() => {
      if (Date.now() - state.lastSent >= HEARTBEAT_MS * 0.9) send(`/ping ${HEARTBEAT_TOKEN}`);
    }, HEARTBEAT_MS / 2);
  }

  function requestRooms(soon) {
    clearTimeout(state.roomsTimer);
    state.roomsTimer = setTimeout(() => send("/rooms"), soon ? 0 : 1000);
  }

  // -- lines from the server ----------------------------------------------------------

  function split(text) {
    const i = text.indexOf(" ");
    return i < 0 ? [text, ""] : [text.slice(0, i), text.slice(i + 1)];
  }

  function handle(line) {
    const [verb, rest] = split(line);
    switch (verb) {
      case "WELCOME":
        state.me = rest;
        state.welcomed = true;
        state.restoring = true;
        setStatus("online", "connected");
        hideBanner();
        showMe();
        startHeartbeat();
        if (state.wantNick && state.wantNick !== rest) send(`/nick ${state.wantNick}`);
        break;
      case "ROOM": {
        // After a reconnect, go back to the room the user was in.
        const back = state.restoring ? state.wantRoom : null;
        state.restoring = false;
        enterRoom(rest);
        if (back && back.toLowerCase() !== rest.toLowerCase()) send(`/join ${back}`);
        break;
      }
      case "HIST": {
        const [stamp, event] = split(rest);
        addEvent(event, new Date(stamp), true);
        state.histShown = true;
        break;
      }
      case "ROOMS":
        showRooms(rest ? rest.split(" ") : []);
        break;
      case "WHO":
        showMembers(rest ? rest.split(" ") : []);
        break;
      case "JOIN":
        addMember(rest);
        addSystem(`${rest} joined`);
        requestRooms(false);
        break;
      case "PART": {
        const [nick, reason] = split(rest);
        removeMember(nick);
        addSystem(partText(nick, reason));
        requestRooms(false);
        break;
      }
      case "NICK": {
        const [old, nick] = split(rest);
        renameMember(old, nick);
        if (old === state.me) {
          state.me = nick;
          state.wantNick = nick;
          store.setItem("nick", nick);
          showMe();
          addSystem(`You are now ${nick}`);
        } else {
          addSystem(`${old} is now ${nick}`);
        }
        break;
      }
      case "PONG":
        if (rest !== HEARTBEAT_TOKEN) addSystem(line);
        break;
      case "INFO":
        addSystem(rest);
        break;
      case "ERR": {
        const [code, text] = split(rest);
        if (code === "bad-nick" || code === "nick-in-use") {
          state.wantNick = null;
          store.removeItem("nick");
        }
        if (code === "bad-room" || code === "max-rooms") {
          state.wantRoom = state.room;
        }
        addRow("error", null, text ? `${text} (${code})` : code, new Date());
        break;
      }
      case "BYE":
        state.bye = rest;
        if (rest === "quit" || rest.startsWith("quit ")) state.quit = true;
        addSystem(rest === "shutdown" ? "The server is shutting down." : `Goodbye (${rest}).`);
        break;
      default:
        addEvent(line, new Date(), false);
    }
  }

  function partText(nick, reason) {
    const [why, detail] = split(reason);
    switch (why) {
      case "moved": return `${nick} went to another room`;
      case "quit": return detail ? `${nick} left (${detail})` : `${nick} left`;
      case "disconnected": return `${nick} disconnected`;
      default: return `${nick} left (${reason})`;
    }
  }

  function enterRoom(name) {
    state.room = name;
    state.wantRoom = name;
    store.setItem("room", name);
    state.histShown = false;
    $("room-name").textContent = name;
    document.title = `#${name} \u2014 netsuite chat`;
    $("input").placeholder = `Message #${name} \u2014 /help lists the commands`;
    $("log").replaceChildren();
    addRow("room", null, `#${name}`, new Date());
    showMembers([]);
    body.classList.remove("panel-open");
    $("panel-toggle").setAttribute("aria-expanded", "false");
    send("/who");
    requestRooms(true);
  }

  // -- the message log ----------------------------------------------------------------

  function addEvent(line, when, hist) {
    const [verb, rest] = split(line);
    const [nick, text] = split(rest);
    if (!hist && state.histShown) {
      state.histShown = false;
      addRow("divider", null, "new", null);
    }
    const cls = hist ? " hist" : "";
    if (verb === "MSG") addRow(`msg${cls}`, nick, text, when);
    else if (verb === "ACTION") addRow(`action${cls}`, `* ${nick}`, text, when, nick);
    else if (verb === "PRIV") addRow(`priv${cls}`, nick, text, when);
    else addRow(`system${cls}`, null, line, when);
  }

  function addSystem(text) {
    addRow("system", null, text, new Date());
  }

  function formatTime(when) {
    const now = new Date();
    const options = { hour: "2-digit", minute: "2-digit" };
    if (when.toDateString() !== now.toDateString()) {
      return when.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
        when.toLocaleTimeString([], options);
    }
    return when.toLocaleTimeString([], options);
  }

  function nickColor(nick) {
    let hash = 0;
    for (const ch of nick.toLowerCase()) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return `hsl(${hash % 360}, 55%, 38%)`;
  }

  function addRow(kind, nick, text, when, colorNick) {
    const log = $("log");
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const row = document.createElement("li");
    row.className = kind;
    if (when && !Number.isNaN(when.getTime())) {
      const time = document.createElement("time");
      time.dateTime = when.toISOString();
      time.title = when.toLocaleString();
      time.textContent = formatTime(when);
      row.append(time);
    }
    if (nick) {
      const who = document.createElement("span");
      who.className = "nick";
      who.textContent = nick;
      who.style.color = nickColor(colorNick || nick);
      row.append(who);
    }
    const span = document.createElement("span");
    span.className = "text";
    span.textContent = text;
    row.append(span);
    log.append(row);
    while (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // -- members and rooms ----------------------------------------------------------------

  function showMembers(nicks) {
    state.members = nicks.slice();
    renderMembers();
  }

  function addMember(nick) {
    if (!state.members.includes(nick)) state.members.push(nick);
    renderMembers();
  }

  function removeMember(nick) {
    state.members = state.members.filter((n) => n !== nick);
    renderMembers();
  }

  function renameMember(old, nick) {
    state.members = state.members.map((n) => (n === old ? nick : n));
    renderMembers();
  }

  function renderMembers() {
    const list = $("members");
    list.classList.remove("stale");
    const sorted = state.members.slice().sort((a, b) => a.localeCompare(b, undefined,
      { sensitivity: "base" }));
    list.replaceChildren(...sorted.map((nick) => {
      const item = document.createElement("li");
      item.textContent = nick;
      item.title = nick === state.me ? "you" : `Send ${nick} a private message`;
      if (nick === state.me) item.className = "me";
      item.style.color = nickColor(nick);
      item.dataset.nick = nick;
      return item;
    }));
    $("member-count").textContent = sorted.length ? `(${sorted.length})` : "";
  }

  function showRooms(entries) {
    const rooms = entries.map((entry) => {
      const i = entry.lastIndexOf(":");
      return { name: entry.slice(0, i), count: entry.slice(i + 1) };
    });
    if (state.room && !rooms.some((r) => r.name.toLowerCase() === state.room.toLowerCase())) {
      rooms.push({ name: state.room, count: "" });
    }
    rooms.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
    $("rooms").replaceChildren(...rooms.map(({ name, count }) => {
      const item = document.createElement("li");
      if (name.toLowerCase() === state.room.toLowerCase()) item.className = "current";
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.room = name;
      const label = document.createElement("span");
      label.textContent = `#${name}`;
      const number = document.createElement("span");
      number.className = "count";
      number.textContent = count;
      button.append(label, number);
      item.append(button);
      return item;
    }));
  }

  // -- status -------------------------------------------------------------------------

  function setStatus(kind, text) {
    const status = $("status");
    status.className = kind;
    status.textContent = text;
    const offline = kind !== "online";  // typing goes on; sending waits for the connection
    for (const button of document.querySelectorAll("#send-form button, #join-form button")) {
      button.disabled = offline;
    }
  }

  function showMe() {
    $("me").textContent = state.me;
    renderMembers();
  }

  function showBanner(text, kind) {
    $("banner-text").textContent = text;
    $("banner").className = kind;
    $("banner").hidden = false;
  }

  function hideBanner() {
    $("banner").hidden = true;
  }

  // -- user input ---------------------------------------------------------------------

  function submitLine(text) {
    if (!text.trim()) return true;
    const size = encoder.encode(text).length;
    if (size > MAX_LINE) {
      addRow("error", null, `Too long: ${size} bytes (at most ${MAX_LINE}).`, new Date());
      return false;
    }
    if (!send(text)) {
      addRow("error", null, "Not connected: the line was not sent.", new Date());
      return false;
    }
    if (!text.startsWith("/")) {
      addRow("msg self", state.me, text, new Date());
    } else if (text.startsWith("//")) {
      addRow("msg self", state.me, text.slice(1), new Date());
    } else {
      const [command, arg] = split(text);
      const name = command.toLowerCase();
      if (name === "/me" && arg.trim()) {
        addRow("action self", `* ${state.me}`, arg, new Date(), state.me);
      } else if (name === "/msg") {
        const [nick, said] = split(arg);
        if (nick && said.trim()) addRow("priv self", `\u2192 ${nick}`, said, new Date(), nick);
      } else if (name === "/quit") {
        state.quit = true;
      }
    }
    return true;
  }

  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("input");
    if (submitLine(input.value)) input.value = "";
    input.focus();
  });

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("join-input");
    const name = input.value.trim().replace(/^#/, "");
    if (name && send(`/join ${name}`)) input.value = "";
  });

  $("rooms").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-room]");
    if (button && button.dataset.room.toLowerCase() !== state.room.toLowerCase()) {
      send(`/join ${button.dataset.room}`);
    }
  });

  $("members").addEventListener("click", (event) => {
    const item = event.target.closest("li[data-nick]");
    if (!item || item.dataset.nick === state.me) return;
    const input = $("input");
    input.value = `/msg ${item.dataset.nick} `;
    body.classList.remove("panel-open");
    input.focus();
  });

  $("panel-toggle").addEventListener("click", () => {
    const open = body.classList.toggle("panel-open");
    $("panel-toggle").setAttribute("aria-expanded", String(open));
    if (open) requestRooms(true);
  });

  $("reconnect").addEventListener("click", reconnectNow);
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !state.quit) reconnectNow();
  });
  setInterval(() => {
    if (state.welcomed) requestRooms(true);
  }, 30000);

  connect();
})();
