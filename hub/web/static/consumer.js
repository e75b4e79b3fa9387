// The consumer messaging page. It gets a consumer token (kept in localStorage
// so a reload continues the same conversation), opens the consumer websocket,
// subscribes to its conversations and their messaging events, and renders
// texts, quick replies, structured content, files, typing and system notices.
//
// Query parameters: ?account=<id> (else GET /api/hub/config, else "1000"),
// ?skill=<name> (default "bot"), ?name=<display name> (optional).
"use strict";

(function () {
  const { el, UMS, renderQuickReplies, renderStructured, formatTime, isImageFile } = window.Botrelay;

  const params = new URLSearchParams(location.search);
  const ui = {
    messages: document.getElementById("messages"),
    typing: document.getElementById("typing"),
    status: document.getElementById("status"),
    form: document.getElementById("composer"),
    input: document.getElementById("message-input"),
    file: document.getElementById("file-input"),
    end: document.getElementById("end-conversation"),
  };

  const state = {
    account: "1000",
    skill: params.get("skill") || "bot",
    token: "",
    consumerId: "",
    conv: null, // {id, state, skillId, agents:Set, dialogs:Map(id→{type,state}), subscribed:Set}
    seen: new Set(), // "dialogId:sequence" of rendered events
    names: new Map(), // participant id → display name
    pendingConv: null,
    unread: [], // [dialogId, sequence] waiting for a READ receipt
  };

  // ---- startup ----

  async function resolveAccount() {
    if (params.get("account")) return params.get("account");
    try {
      const r = await fetch("/api/hub/config", { headers: { Accept: "application/json" } });
      if (r.ok) {
        const cfg = await r.json();
        if (cfg && cfg.account) return String(cfg.account);
      }
    } catch (e) { /* fall back */ }
    return "1000";
  }

  function storageKey() { return "botrelay.consumer." + state.account; }

  async function obtainToken(forceNew) {
    let stored = null;
    try { stored = JSON.parse(localStorage.getItem(storageKey()) || "null"); } catch (e) { stored = null; }
    const url = "/api/account/" + encodeURIComponent(state.account) + "/consumer/token";
    const body = JSON.stringify(params.get("name") ? { name: params.get("name") } : {});
    if (stored && stored.token && !forceNew) {
      const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + stored.token }, body });
      if (r.ok) return save(await r.json());
    }
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    if (!r.ok) throw new Error("could not get a consumer token (HTTP " + r.status + ")");
    return save(await r.json());

    function save(t) {
      state.token = t.token;
      state.consumerId = t.consumerId;
      localStorage.setItem(storageKey(), JSON.stringify({ token: t.token, consumerId: t.consumerId }));
      return t;
    }
  }

  function wsURL() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/ws_api/account/" + encodeURIComponent(state.account) +
      "/messaging/consumer?v=3&token=" + encodeURIComponent(state.token);
  }

  const ums = new UMS(wsURL);

  ums.onstate = (s) => {
    ui.status.dataset.state = s;
    ui.status.textContent = s === "connected" ? "Connected" : s === "connecting" ? "Connecting…" : "Reconnecting…";
  };

  ums.onclose = (ev) => {
    if (ev.code === 4401 || ev.code === 4407 || ev.code === 1008) {
      // The token is no longer accepted: get a fresh one, then reconnect.
      obtainToken(false).catch(() => obtainToken(true)).then(() => setTimeout(() => ums.connect(), 300), (e) => system("Cannot reconnect: " + e.message));
      return false;
    }
    if (state.conv) state.conv.subscribed.clear();
    return true;
  };

  ums.onopen = async () => {
    try {
      await ums.request("cqm.SubscribeExConversations", { brandId: state.account, convState: ["OPEN", "CLOSE"] });
      if (state.conv && state.conv.state === "OPEN") {
        for (const id of state.conv.dialogs.keys()) subscribeDialog(id);
        subscribeDialog(state.conv.id);
      }
    } catch (e) {
      system("Could not subscribe to conversations: " + e.message);
    }
  };

  ums.on("cqm.ExConversationChangeNotification", (body) => {
    for (const ch of (body && body.changes) || []) {
      const res = ch.result || {};
      const details = res.conversationDetails || {};
      const id = res.convId || details.convId;
      if (!id) continue;
      if (ch.type === "DELETE" && !details.state) {
        if (state.conv && state.conv.id === id) markClosed();
        continue;
      }
      applyConversation(id, details);
    }
  });

  ums.on("ms.MessagingEventNotification", (body) => {
    for (const ch of (body && body.changes) || []) renderEvent(ch, false);
  });

  // ---- conversation state ----

  function participantName(id) {
    return state.names.get(id) || "";
  }

  function adopt(id) {
    if (state.conv && state.conv.id === id) return state.conv;
    state.conv = { id, state: "OPEN", skillId: undefined, agents: new Set(), dialogs: new Map(), subscribed: new Set() };
    state.conv.dialogs.set(id, { type: "MAIN", state: "OPEN" });
    ui.end.disabled = false;
    subscribeDialog(id);
    return state.conv;
  }

  function applyConversation(id, d) {
    const fresh = !state.conv || state.conv.id !== id;
    if (fresh) {
      if (d.state !== "OPEN") return; // an old, closed conversation
      adopt(id);
    }
    const conv = state.conv;
    for (const [pid, name] of Object.entries(d.participantNames || {})) if (name) state.names.set(pid, name);
    for (const dlg of d.dialogs || []) {
      for (const p of dlg.participantsDetails || []) if (p.id && p.name) state.names.set(p.id, p.name);
    }
    // Prefer participant ids (PIDs): participantNames and originatorId use them.
    const byPid = (d.participantsPId || {}).ASSIGNED_AGENT;
    const assigned = new Set(byPid || ((d.participants || {}).ASSIGNED_AGENT) || []);
    if (!fresh) {
      if (d.skillId !== undefined && conv.skillId !== undefined && String(d.skillId) !== String(conv.skillId)) {
        system("You are being transferred to another agent.");
      }
      for (const a of assigned) {
        if (!conv.agents.has(a)) {
          const name = participantName(a);
          system((name || "An agent") + " joined the conversation.");
        }
      }
    }
    if (d.skillId !== undefined) conv.skillId = d.skillId;
    if (d.participants || d.participantsPId) conv.agents = assigned;
    for (const dlg of d.dialogs || []) {
      if (!dlg.dialogId) continue;
      const known = conv.dialogs.get(dlg.dialogId);
      conv.dialogs.set(dlg.dialogId, { type: dlg.dialogType || "MAIN", state: dlg.state || "OPEN" });
      if (!known && dlg.dialogType === "POST_SURVEY" && dlg.state === "OPEN") {
        subscribeDialog(dlg.dialogId);
      }
    }
    if (d.state === "CLOSE" || d.state === "CLOSED") markClosed();
  }

  function markClosed() {
    const conv = state.conv;
    if (!conv || conv.state !== "OPEN") return;
    conv.state = "CLOSE";
    ui.end.disabled = true;
    showTyping("");
    for (const row of ui.messages.querySelectorAll(".quick-replies")) row.remove();
    system("Conversation closed. Send a message to start a new one.");
  }

  function activeDialog() {
    const conv = state.conv;
    for (const [id, dlg] of conv.dialogs) {
      if (dlg.type === "POST_SURVEY" && dlg.state === "OPEN") return id;
    }
    return conv.id;
  }

  function subscribeDialog(dialogId) {
    const conv = state.conv;
    if (!conv || conv.subscribed.has(dialogId) || !ums.connected) return;
    conv.subscribed.add(dialogId);
    ums.request("ms.SubscribeMessagingEvents", { dialogId, conversationId: conv.id, fromSeq: 0 })
      .catch((e) => { conv.subscribed.delete(dialogId); system("Could not load messages: " + e.message); });
  }

  async function ensureConversation() {
    if (state.conv && state.conv.state === "OPEN") return state.conv;
    if (!state.pendingConv) {
      const req = { brandId: state.account, channelType: "MESSAGING", skill: state.skill };
      // ?name= tells the agent who is writing: the personal engagement
      // attribute of the conversation context, as LivePerson's SDEs.
      const name = (params.get("name") || "").trim().slice(0, 100);
      if (name) {
        const [first, ...rest] = name.split(/\s+/);
        req.conversationContext = { type: "SharkContext", lang: navigator.language || "en-US", clientProperties: {},
          engagementAttributes: [{ type: "personal", personal: { firstname: first, lastname: rest.join(" ") } }] };
      }
      state.pendingConv = ums.request("cm.ConsumerRequestConversation", req).then((body) => adopt(body.conversationId)).finally(() => { state.pendingConv = null; });
    }
    return state.pendingConv;
  }

  // ---- rendering ----

  function scrollDown() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function system(text) {
    ui.messages.append(el("li", { class: "msg", "data-testid": "message", "data-kind": "system" }, el("span", { class: "body", text })));
    scrollDown();
  }

  function showTyping(name) {
    ui.typing.textContent = name ? name + " is typing…" : "";
  }

  // fileURL fetches one of the consumer's own files with the token in the
  // Authorization header (never in the URL) and returns a blob: URL of it.
  async function fileURL(relativePath) {
    const path = String(relativePath || "").split("/").map(encodeURIComponent).join("/");
    const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/files/" + path,
      { headers: { Authorization: "Bearer " + state.token } });
    if (!r.ok) throw new Error("could not load the file (HTTP " + r.status + ")");
    return URL.createObjectURL(await r.blob());
  }

  function renderEvent(ch, fromPublish) {
    const ev = ch.event || {};
    const meta = ch.originatorMetadata || {};
    const mine = meta.role === "CONSUMER" || (!meta.role && ch.originatorId === state.consumerId);
    if (meta.id && meta.name) state.names.set(meta.id, meta.name);
    if (ch.originatorId && meta.name) state.names.set(ch.originatorId, meta.name);

    if (ev.type === "ChatStateEvent") {
      if (!mine) showTyping(ev.chatState === "COMPOSING" ? (meta.name || (meta.userType === "BOT" ? "Bot" : "Agent")) : "");
      return;
    }
    if (ev.type === "AcceptStatusEvent") return;
    if (ev.type !== "ContentEvent" && ev.type !== "RichContentEvent") return;

    const key = ch.dialogId + ":" + ch.sequence;
    if (ch.sequence !== undefined && state.seen.has(key)) return;
    if (ch.sequence !== undefined) state.seen.add(key);

    const kind = mine ? "consumer" : meta.userType === "BOT" ? "bot" : "agent";
    const author = mine ? "You" : (meta.name || (kind === "bot" ? "Bot" : "Agent"));
    const body = el("div", { class: "body" });
    const li = el("li", {
      class: "msg" + (mine ? " mine" : ""), "data-testid": "message", "data-kind": kind,
      "data-seq": ch.sequence, "data-dialog": ch.dialogId,
    }, el("span", { class: "author", text: author }), body);

    if (ev.type === "RichContentEvent") {
      body.append(renderStructured(ev.content, mine ? null : (text) => sendText(text)));
    } else if (ev.contentType === "hosted/file") {
      const f = (typeof ev.message === "object" && ev.message) || {};
      const link = el("a", { target: "_blank", rel: "noopener", "data-testid": "file-link", text: f.caption || f.relativePath || "file" });
      body.append(link);
      let thumb = null;
      if (isImageFile(f.fileType)) {
        thumb = el("a", { target: "_blank", rel: "noopener" }, el("img", { class: "file-thumb", alt: f.caption || "image" }));
        body.append(thumb);
      }
      fileURL(f.relativePath).then((href) => {
        link.href = href;
        if (thumb) {
          thumb.href = href;
          thumb.firstChild.src = href;
        }
      }).catch((err) => { link.title = err.message; });
    } else {
      body.textContent = typeof ev.message === "string" ? ev.message : "";
      if (!mine && ev.quickReplies) {
        const row = renderQuickReplies(ev.quickReplies, (text) => sendText(text));
        if (row) li.append(row);
      }
    }
    if (ch.serverTimestamp) li.append(el("time", { class: "meta", datetime: new Date(ch.serverTimestamp).toISOString(), text: formatTime(ch.serverTimestamp) }));

    if (mine) {
      // Quick replies are only offered until the consumer answers.
      for (const row of ui.messages.querySelectorAll(".quick-replies")) row.remove();
    } else {
      showTyping("");
      if (!fromPublish && ch.sequence !== undefined) queueRead(ch.dialogId, ch.sequence);
    }
    ui.messages.append(li);
    scrollDown();
  }

  // ---- read receipts ----

  function queueRead(dialogId, sequence) {
    state.unread.push([dialogId, sequence]);
    if (document.visibilityState === "visible") queueMicrotask(flushRead);
  }

  function flushRead() {
    if (!state.unread.length || !ums.connected) return;
    const byDialog = new Map();
    for (const [d, s] of state.unread) {
      if (!byDialog.has(d)) byDialog.set(d, []);
      byDialog.get(d).push(s);
    }
    state.unread = [];
    for (const [dialogId, seqs] of byDialog) {
      ums.request("ms.PublishEvent", { dialogId, event: { type: "AcceptStatusEvent", status: "READ", sequenceList: seqs } }).catch(() => {});
    }
  }

  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") flushRead(); });

  // ---- sending ----

  async function publish(event) {
    const conv = await ensureConversation();
    const dialogId = activeDialog();
    const body = await ums.request("ms.PublishEvent", { dialogId, event });
    if (body && body.sequence !== undefined) {
      renderEvent({ sequence: body.sequence, dialogId, event, originatorId: state.consumerId, originatorMetadata: { role: "CONSUMER" }, serverTimestamp: Date.now(), conversationId: conv.id }, true);
    }
  }

  async function sendText(text) {
    text = String(text || "").trim();
    if (!text) return;
    stopComposing();
    try {
      await publish({ type: "ContentEvent", contentType: "text/plain", message: text });
    } catch (e) {
      system("Message not sent: " + e.message);
    }
  }

  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = ui.input.value;
    ui.input.value = "";
    sendText(text);
    ui.input.focus();
  });

  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      ui.form.requestSubmit();
    }
  });

  // Typing indicator: COMPOSING while typing, ACTIVE after a pause.
  let composing = false;
  let composeTimer = null;
  ui.input.addEventListener("input", () => {
    if (!state.conv || state.conv.state !== "OPEN" || !ums.connected) return;
    if (!composing) {
      composing = true;
      ums.request("ms.PublishEvent", { dialogId: activeDialog(), event: { type: "ChatStateEvent", chatState: "COMPOSING" } }).catch(() => {});
    }
    clearTimeout(composeTimer);
    composeTimer = setTimeout(stopComposing, 4000);
  });

  function stopComposing() {
    clearTimeout(composeTimer);
    if (!composing) return;
    composing = false;
    if (state.conv && state.conv.state === "OPEN" && ums.connected) {
      ums.request("ms.PublishEvent", { dialogId: activeDialog(), event: { type: "ChatStateEvent", chatState: "ACTIVE" } }).catch(() => {});
    }
  }

  ui.file.addEventListener("change", async () => {
    const file = ui.file.files && ui.file.files[0];
    ui.file.value = "";
    if (!file) return;
    try {
      const form = new FormData();
      form.append("file", file);
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/consumer/files", { method: "POST", body: form, headers: { Authorization: "Bearer " + state.token } });
      if (!r.ok) throw new Error("upload failed (HTTP " + r.status + ")");
      const up = await r.json();
      await publish({ type: "ContentEvent", contentType: "hosted/file", message: { relativePath: up.relativePath, fileType: up.fileType, caption: file.name } });
    } catch (e) {
      system("File not sent: " + e.message);
    }
  });

  ui.end.addEventListener("click", async () => {
    if (!state.conv || state.conv.state !== "OPEN") return;
    try {
      await ums.request("cm.UpdateConversationField", {
        conversationId: state.conv.id,
        conversationField: [{ field: "ConversationStateField", conversationState: "CLOSE" }],
      });
      markClosed();
    } catch (e) {
      system("Could not end the conversation: " + e.message);
    }
  });

  // start gets the account and a token, then connects; it retries with a
  // growing pause while the hub cannot be reached.
  let startDelay = 2000;
  let told = false;
  (async function start() {
    try {
      state.account = await resolveAccount();
      await obtainToken(false);
      ums.connect();
    } catch (e) {
      ui.status.dataset.state = "closed";
      ui.status.textContent = "Offline";
      if (!told) system("Cannot connect: " + e.message + ". Retrying…");
      told = true;
      setTimeout(start, startDelay);
      startDelay = Math.min(startDelay * 2, 30000);
    }
  })();
})();
