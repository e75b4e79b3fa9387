// The agent console. A human agent logs in (agentVep login), goes ONLINE,
// accepts incoming conversations (routing rings, with a beep, a browser
// notification while the tab is hidden and the count in the title), reads
// and answers them (texts, canned replies, files, quick replies, private
// notes, typing), transfers them to a skill or an agent with a note, and
// closes them — over the same agent messaging protocol as node-agent-sdk,
// plus the hub's console helpers (canned replies, agents, agent uploads).
//
// Query parameter: ?account=<id> (else GET /api/hub/config, else "1000").
"use strict";

(function () {
  const { el, UMS, renderQuickReplies, renderStructured, formatTime, isImageFile } = window.Botrelay;
  const { Alerts, CannedPicker, waited } = window.BotrelayConsole;

  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const ui = {
    loginForm: $("login-form"), username: $("login-username"), password: $("login-password"), loginError: $("login-error"),
    console: $("console"), agentName: $("agent-name"), status: $("status"), availability: $("availability"), logout: $("logout"),
    availabilityLabel: $("availability-label"), enableAlerts: $("enable-alerts"),
    rings: $("rings"), ringsEmpty: $("rings-empty"), convs: $("conversations"), convsEmpty: $("convs-empty"),
    closedSection: $("closed-section"), closedList: $("closed-conversations"), closedCount: $("closed-count"),
    placeholder: $("placeholder"), panel: $("conversation"), title: $("conv-title"),
    transferOpen: $("transfer-open"), transferPanel: $("transfer-panel"), transferSkill: $("transfer-skill"),
    transferAgent: $("transfer-agent"), transferNote: $("transfer-note"), transferCancel: $("transfer-cancel"),
    transfer: $("transfer"), close: $("close-conversation"),
    messages: $("agent-messages"), typing: $("consumer-typing"),
    composer: $("agent-composer"), input: $("agent-input"), quickReplies: $("quick-replies-input"), privateNote: $("private-note"),
    cannedList: $("canned-list"), file: $("agent-file"),
  };
  const alerts = new Alerts("Agent console — botrelay");
  const picker = new CannedPicker(ui.input, ui.cannedList);
  // MAX_CLOSED bounds the "Closed" list; older ended conversations go.
  const MAX_CLOSED = 20;

  const SESSION_KEY = "botrelay.agent.session";
  const state = {
    account: "1000",
    session: null, // {bearer, csrf, userId, userPid, loginName}
    legacyId: "",
    availability: "ONLINE",
    rings: new Map(), // ringId → {conversationId, consumerId, skillId, node}
    convs: new Map(), // conversationId → conversation record (see ensureConv)
    dialogToConv: new Map(),
    current: "",
    openOnArrival: new Set(),
    skills: [],
    agents: [],
  };
  let ums = null;

  // ---- login ----

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

  ui.loginForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    alerts.unlock(); // a user gesture: sound and the notification permission
    ui.loginError.textContent = "";
    const submit = $("login-submit");
    submit.disabled = true;
    try {
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/login?v=1.3", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: ui.username.value.trim(), password: ui.password.value }),
      });
      if (r.status === 401 || r.status === 403) throw new Error("Wrong login name or password.");
      if (r.status === 429 || r.status === 503) {
        // The login limits: {"error":{"code","message"}} says when to try again.
        const b = await r.json().catch(() => null);
        const m = b && b.error && b.error.message;
        throw new Error(m ? m.charAt(0).toUpperCase() + m.slice(1) + "." : "Too many attempts; try again later.");
      }
      if (!r.ok) throw new Error("Login failed (HTTP " + r.status + ").");
      const body = await r.json();
      const cfg = body.config || {};
      startSession({ bearer: body.bearer, csrf: body.csrf, userId: String(cfg.userId), userPid: String(cfg.userPid || ""), loginName: cfg.loginName || ui.username.value.trim() });
      ui.password.value = "";
    } catch (err) {
      ui.loginError.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  function startSession(session) {
    state.session = session;
    state.legacyId = state.account + "." + session.userId;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ account: state.account, session, availability: state.availability }));
    ui.loginForm.hidden = true;
    ui.console.hidden = false;
    ui.agentName.textContent = session.loginName;
    renderAvailability();
    loadSkills();
    loadCanned();
    ui.enableAlerts.hidden = !alerts.needsPermission();
    ums = new UMS(() => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      return proto + "//" + location.host + "/ws_api/account/" + encodeURIComponent(state.account) +
        "/messaging/brand/" + encodeURIComponent(session.bearer) + "?v=2.1";
    });
    ums.onstate = (s) => {
      ui.status.dataset.state = s;
      ui.status.textContent = s === "connected" ? "Connected" : s === "connecting" ? "Connecting…" : "Reconnecting…";
    };
    ums.onclose = (ev) => {
      if (ev.code === 4401 || ev.code === 4407 || ev.code === 1008) {
        endSession("Your session has expired. Please log in again.");
        return false;
      }
      return true;
    };
    ums.onopen = onOpen;
    ums.on(".ams.routing.RoutingTaskNotification", onRouting);
    ums.on(".ams.aam.ExConversationChangeNotification", onConversations);
    ums.on(".ams.ms.OnlineEventDistribution", (body) => onEvent(body, false));
    ums.connect();
  }

  function endSession(message) {
    if (ums) ums.close();
    ums = null;
    sessionStorage.removeItem(SESSION_KEY);
    state.session = null;
    state.rings.clear();
    state.convs.clear();
    state.dialogToConv.clear();
    state.current = "";
    ui.rings.replaceChildren();
    ui.convs.replaceChildren();
    ui.closedList.replaceChildren();
    alerts.count(0);
    picker.set([]);
    ui.messages.replaceChildren();
    updateEmpty();
    showPanel(false);
    ui.console.hidden = true;
    ui.loginForm.hidden = false;
    ui.loginError.textContent = message || "";
    ui.username.focus();
  }

  ui.logout.addEventListener("click", () => {
    const s = state.session;
    if (s) {
      fetch("/api/account/" + encodeURIComponent(state.account) + "/logout?v=1.3", {
        method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + s.bearer },
        body: JSON.stringify({ csrf: s.csrf }),
      }).catch(() => {});
    }
    endSession("");
  });

  async function onOpen() {
    try {
      await ums.request(".ams.routing.SetAgentState", { availability: state.availability, channels: ["MESSAGING"], agentUserId: state.session.userPid });
      await ums.request(".ams.routing.SubscribeRoutingTasks", {});
      await ums.request(".ams.aam.SubscribeExConversations", { agentIds: [state.legacyId], convState: ["OPEN"] });
      for (const conv of state.convs.values()) if (!conv.ended) loadHistory(conv);
    } catch (e) {
      console.error(e);
      ui.status.textContent = "Error: " + e.message;
    }
  }

  async function loadSkills() {
    try {
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/skills", {
        headers: { Authorization: "Bearer " + state.session.bearer, Accept: "application/json" },
      });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const list = await r.json();
      state.skills = Array.isArray(list) ? list : (list.skills || []);
    } catch (e) {
      state.skills = [];
    }
    // No skill is preselected: the agent picks one (or an agent).
    ui.transferSkill.replaceChildren(el("option", { value: "", text: "Choose a skill…" }),
      ...state.skills.map((s) => el("option", { value: s.id, text: s.name })));
    updateTransferButton();
  }

  function authHeaders() {
    return { Authorization: "Bearer " + state.session.bearer, Accept: "application/json" };
  }

  // loadCanned reads the account's canned replies; the console reads them
  // again when the agent starts typing "/" (at most every 30 s), so
  // replies an admin adds meanwhile show up.
  let cannedLoaded = 0;
  async function loadCanned() {
    cannedLoaded = Date.now();
    try {
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/canned-replies", { headers: authHeaders() });
      picker.set(r.ok ? await r.json() : []);
    } catch (e) {
      picker.set([]);
    }
  }

  async function loadAgents() {
    try {
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/agents", { headers: authHeaders() });
      state.agents = r.ok ? await r.json() : [];
    } catch (e) {
      state.agents = [];
    }
    const keep = ui.transferAgent.value;
    ui.transferAgent.replaceChildren(el("option", { value: "", text: "Choose an agent…" }),
      ...state.agents.map((a) => el("option", { value: a.id, text: a.name + " (" + a.availability.toLowerCase() + ")" })));
    if (state.agents.some((a) => a.id === keep)) ui.transferAgent.value = keep;
    updateTransferButton();
  }

  function skillName(id) {
    const s = state.skills.find((x) => String(x.id) === String(id));
    return s ? s.name : (id !== undefined && id !== null && id !== "" ? "skill " + id : "");
  }

  // ---- availability ----

  function renderAvailability() {
    const online = state.availability === "ONLINE";
    // The label says both the state and what a click does.
    ui.availabilityLabel.textContent = online ? "You are Online — go Away" : "You are Away — go Online";
    ui.availability.dataset.state = state.availability;
    ui.availability.setAttribute("aria-checked", online ? "true" : "false");
    ui.availability.title = online ? "You receive new conversations. Click to stop receiving them." : "You receive no new conversations. Click to receive them.";
  }

  alerts.onpermission = () => { ui.enableAlerts.hidden = !alerts.needsPermission(); };
  // Browsers start sound only after a user gesture: any click will do (a
  // reloaded console has no login click).
  document.addEventListener("pointerdown", () => alerts.wake(), { passive: true });
  ui.enableAlerts.addEventListener("click", () => alerts.unlock());

  ui.availability.addEventListener("click", async () => {
    alerts.wake();
    const next = state.availability === "ONLINE" ? "AWAY" : "ONLINE";
    try {
      await ums.request(".ams.routing.SetAgentState", { availability: next, channels: ["MESSAGING"], agentUserId: state.session.userPid });
      state.availability = next;
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ account: state.account, session: state.session, availability: next }));
      renderAvailability();
    } catch (e) {
      ui.status.textContent = "Could not change state: " + e.message;
    }
  });

  // ---- rings ----

  function onRouting(body) {
    for (const ch of (body && body.changes) || []) {
      const res = ch.result || {};
      const rings = res.ringsDetails || [];
      if (ch.type === "DELETE") {
        for (const [id, r] of state.rings) if (r.conversationId === res.conversationId) removeRing(id);
        for (const r of rings) removeRing(r.ringId);
        continue;
      }
      for (const r of rings) {
        if (r.ringState === "WAITING") addRing(r, res);
        else removeRing(r.ringId);
      }
    }
  }

  // addRing shows a ring: who (the consumer's name, or a short id), the
  // skill, a preview of their last message and how long they have waited;
  // it beeps, notifies while the tab is hidden and counts in the title.
  function addRing(r, res) {
    const known = state.rings.get(r.ringId);
    if (known) {
      // The same ring again, with a newer preview of the consumer's message.
      if (res.lastConsumerMessage && res.lastConsumerMessage !== known.preview.textContent) {
        known.preview.textContent = res.lastConsumerMessage;
        known.preview.hidden = false;
        known.notify(true);
      }
      return;
    }
    const who = res.consumerName || "Consumer " + String(res.consumerId || "").slice(0, 8);
    const accept = el("button", { type: "button", "data-testid": "accept-ring", text: "Accept" });
    const waitedEl = el("span", { class: "ring-waited", "data-testid": "ring-waited" });
    const preview = el("span", { class: "ring-preview", "data-testid": "ring-preview", text: res.lastConsumerMessage || "", hidden: !res.lastConsumerMessage });
    const since = Number(res.waitingSinceTs) || Date.now();
    const tick = () => { waitedEl.textContent = "waiting " + waited(since); };
    tick();
    const node = el("li", { class: "ring", "data-testid": "ring", "data-ring-id": r.ringId, "data-conversation-id": res.conversationId },
      el("div", { class: "ring-info" },
        el("span", { class: "who", "data-testid": "ring-consumer", text: who + (res.skillId ? " · " + skillName(res.skillId) : "") }),
        preview, waitedEl),
      accept);
    accept.setAttribute("aria-label", "Accept conversation from " + who);
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      state.openOnArrival.add(res.conversationId);
      try {
        await ums.request(".ams.routing.UpdateRingState", { ringId: r.ringId, ringState: "ACCEPTED" });
        removeRing(r.ringId);
      } catch (e) {
        accept.disabled = false;
        state.openOnArrival.delete(res.conversationId);
        node.querySelector(".who").textContent = "Could not accept: " + e.message;
      }
    });
    const notify = (quiet) => {
      const text = preview.textContent;
      alerts.ring("New conversation" + (res.skillId ? " · " + skillName(res.skillId) : ""),
        text ? who + ": " + text : who + " is waiting.", r.ringId, () => accept.focus(), quiet);
    };
    state.rings.set(r.ringId, { conversationId: res.conversationId, node, preview, notify, timer: setInterval(tick, 1000) });
    if (r.ringExpirationTs) {
      const wait = Number(r.ringExpirationTs) - Date.now();
      if (wait > 0) setTimeout(() => removeRing(r.ringId), wait);
    }
    ui.rings.append(node);
    updateEmpty();
    notify(false);
  }

  function removeRing(ringId) {
    const r = state.rings.get(ringId);
    if (!r) return;
    clearInterval(r.timer);
    r.node.remove();
    state.rings.delete(ringId);
    updateEmpty();
  }

  function updateEmpty() {
    ui.ringsEmpty.hidden = state.rings.size > 0;
    let open = 0;
    for (const c of state.convs.values()) if (!c.ended) open++;
    ui.convsEmpty.hidden = open > 0;
    const closed = ui.closedList.children.length;
    ui.closedSection.hidden = closed === 0;
    ui.closedCount.textContent = String(closed);
    alerts.count(state.rings.size);
  }

  // ---- conversations ----

  function amAssigned(d) {
    const p = d.participants || {};
    const pid = d.participantsPId || {};
    return (p.ASSIGNED_AGENT || []).includes(state.legacyId) || (pid.ASSIGNED_AGENT || []).includes(state.session.userPid);
  }

  function onConversations(body) {
    for (const ch of (body && body.changes) || []) {
      const res = ch.result || {};
      const d = res.conversationDetails || {};
      const id = res.convId || d.convId;
      if (!id) continue;
      const conv = state.convs.get(id);
      // DELETE means the conversation left this subscription (closed,
      // transferred, agent removed); its details tell which.
      if (ch.type !== "DELETE" && d.state === "OPEN" && amAssigned(d)) {
        upsertConv(id, d);
      } else if (conv && !conv.ended) {
        let why = "Conversation closed.";
        if (d.state === "OPEN") {
          const before = conv.details && conv.details.skillId;
          const suggested = suggestedName(d);
          why = conv.transferTarget ? "Conversation transferred to " + conv.transferTarget + "."
            : suggested ? "Conversation transferred to " + suggested + "."
              : d.skillId !== undefined && String(d.skillId) !== String(before)
                ? "Conversation transferred to " + skillName(d.skillId) + "."
                : "You are no longer assigned to this conversation.";
        }
        endConv(conv, why);
      }
    }
  }

  // suggestedName names the agent a conversation was transferred to (a
  // SUGGESTED participant), or "".
  function suggestedName(d) {
    for (const dlg of d.dialogs || []) {
      for (const p of dlg.participantsDetails || []) {
        if (p.state === "SUGGESTED") return (d.participantNames || {})[p.id] || "another agent";
      }
    }
    return "";
  }

  function upsertConv(id, d) {
    let conv = state.convs.get(id);
    const isNew = !conv || conv.ended;
    if (!conv || conv.ended) {
      if (conv) conv.node.remove();
      const label = el("span", { class: "label" });
      const badge = el("span", { class: "badge", hidden: true });
      const node = el("li", {}, el("button", { type: "button", class: "conv-item", "data-testid": "conversation", "data-conversation-id": id }, label, badge));
      node.firstChild.addEventListener("click", () => openConv(id));
      conv = { id, details: d, events: new Map(), order: [], unread: 0, ended: false, typing: "", node, label, badge, historyLoaded: false, read: new Set() };
      state.convs.set(id, conv);
      state.dialogToConv.set(id, id);
      ui.convs.append(node);
    }
    conv.details = d;
    for (const dlg of d.dialogs || []) if (dlg.dialogId) state.dialogToConv.set(dlg.dialogId, id);
    const consumers = (d.participants || {}).CONSUMER || [];
    conv.consumer = consumers[0] || "";
    conv.consumerName = (d.participantNames || {})[conv.consumer] || "Consumer " + String(conv.consumer).slice(0, 8);
    conv.label.textContent = conv.consumerName + (d.skillId !== undefined && d.skillId !== "" ? " · " + skillName(d.skillId) : "");
    updateEmpty();
    if (isNew) {
      for (const [ringId, r] of state.rings) if (r.conversationId === id) removeRing(ringId);
      loadHistory(conv);
      if (state.openOnArrival.has(id) || !state.current) {
        state.openOnArrival.delete(id);
        openConv(id);
      }
    }
    if (state.current === id) renderHeader(conv);
  }

  // endConv moves an ended conversation out of "My conversations" into the
  // collapsed "Closed" list (newest first), where it can still be read.
  function endConv(conv, why) {
    conv.ended = true;
    conv.typing = "";
    conv.node.firstChild.classList.add("closed");
    conv.badge.hidden = true;
    addEvent(conv, { system: why });
    ui.closedList.prepend(conv.node);
    while (ui.closedList.children.length > MAX_CLOSED) {
      const last = ui.closedList.lastElementChild;
      const id = last.firstChild.dataset.conversationId;
      last.remove();
      if (id !== state.current) state.convs.delete(id);
    }
    updateEmpty();
    if (state.current === conv.id) renderHeader(conv);
  }

  async function loadHistory(conv) {
    if (!ums || !ums.connected) return;
    try {
      const body = await ums.request(".ams.ms.QueryMessages", { dialogId: mainDialog(conv), newerThanSequence: -1 });
      const list = Array.isArray(body) ? body : (body && (body.messages || body.changes)) || [];
      for (const ev of list) onEvent(Object.assign({ dialogId: mainDialog(conv) }, ev), true);
      conv.historyLoaded = true;
    } catch (e) {
      addEvent(conv, { system: "Could not load history: " + e.message });
    }
  }

  function mainDialog(conv) {
    for (const dlg of (conv.details && conv.details.dialogs) || []) {
      if (dlg.dialogType === "MAIN" && dlg.dialogId) return dlg.dialogId;
    }
    return conv.id;
  }

  function isMine(ev) {
    const meta = ev.originatorMetadata || {};
    const ids = [ev.originatorId, ev.originatorPId, meta.id];
    return ids.includes(state.legacyId) || (state.session.userPid && ids.includes(state.session.userPid));
  }

  function onEvent(ev, fromHistory) {
    if (!ev || !ev.event) return;
    const convId = state.dialogToConv.get(ev.dialogId) || ev.conversationId || ev.dialogId;
    const conv = state.convs.get(convId);
    if (!conv) return;
    const e = ev.event;
    const meta = ev.originatorMetadata || {};
    if (e.type === "ChatStateEvent") {
      if (meta.role === "CONSUMER" && !fromHistory) {
        conv.typing = e.chatState === "COMPOSING" ? "Consumer is typing…" : "";
        if (state.current === conv.id) ui.typing.textContent = conv.typing;
      }
      return;
    }
    if (e.type === "AcceptStatusEvent") {
      if (meta.role === "CONSUMER" && e.status === "READ") {
        for (const s of e.sequenceList || []) conv.read.add(String(s));
        if (state.current === conv.id) markRead(conv);
      }
      return;
    }
    if (e.type !== "ContentEvent" && e.type !== "RichContentEvent") return;
    if (meta.role === "CONSUMER") {
      conv.typing = "";
      if (state.current === conv.id) ui.typing.textContent = "";
    }
    addEvent(conv, ev, fromHistory);
  }

  function addEvent(conv, ev, quiet) {
    const key = ev.system ? "sys:" + conv.order.length : ev.dialogId + ":" + ev.sequence;
    if (conv.events.has(key)) return;
    conv.events.set(key, ev);
    conv.order.push(key);
    if (state.current === conv.id) {
      ui.messages.append(renderEvent(conv, ev));
      ui.messages.scrollTop = ui.messages.scrollHeight;
    } else if (!quiet && !ev.system) {
      conv.unread++;
      conv.badge.hidden = false;
      conv.badge.textContent = String(conv.unread);
    }
  }

  // fileLink asks the hub for a signed, short-lived download link (no
  // bearer in it): {url, exp}. Only the conversation's participants get one.
  async function fileLink(relativePath) {
    const b = await ums.request(".ams.ms.GenerateURLForDownloadFile", { relativePath });
    const q = new URLSearchParams(b.queryParams || {});
    return { url: b.relativePath + "?" + q.toString(), exp: Number((b.queryParams || {}).exp) || 0 };
  }

  function renderEvent(conv, ev) {
    if (ev.system) {
      return el("li", { class: "msg", "data-testid": "message", "data-kind": "system" }, el("span", { class: "body", text: ev.system }));
    }
    const e = ev.event;
    const meta = ev.originatorMetadata || {};
    const mine = isMine(ev);
    const note = ev.messageAudience === "AGENTS_AND_MANAGERS";
    const kind = note ? "note" : meta.role === "CONSUMER" ? "consumer" : meta.userType === "BOT" ? "bot" : "agent";
    let author = meta.role === "CONSUMER" ? "Consumer" : mine ? "You" : (meta.name || (kind === "bot" ? "Bot" : "Agent"));
    if (note) author = "Private note · " + author;
    const body = el("div", { class: "body" });
    const li = el("li", {
      class: "msg" + (mine && !note ? " mine" : ""), "data-testid": "message", "data-kind": kind,
      "data-seq": ev.sequence, "data-mine": mine ? "true" : "false",
    }, el("span", { class: "author", text: author }), body);
    if (e.type === "RichContentEvent") {
      body.append(renderStructured(e.content, null));
    } else if (e.contentType === "hosted/file") {
      const f = (typeof e.message === "object" && e.message) || {};
      const rel = String(f.relativePath || "");
      const link = el("a", { target: "_blank", rel: "noopener", "data-testid": "file-link", text: f.caption || rel || "file" });
      body.append(link);
      const img = isImageFile(f.fileType) ? el("img", { class: "file-thumb", alt: f.caption || "image" }) : null;
      if (img) body.append(img);
      let expires = 0;
      const refresh = () => fileLink(rel).then((u) => {
        link.href = u.url;
        expires = u.exp;
        if (img && !img.src) img.src = u.url;
        return u.url;
      });
      refresh().catch((err) => { link.title = err.message || "no download link"; });
      // Links are short-lived: one about to expire is renewed on click.
      link.addEventListener("click", (ev) => {
        if (Date.now() / 1000 < expires - 15) return;
        ev.preventDefault();
        refresh().then((u) => window.open(u, "_blank", "noopener")).catch(() => {});
      });
    } else {
      body.textContent = typeof e.message === "string" ? e.message : "";
      if (e.quickReplies) {
        const row = renderQuickReplies(e.quickReplies, null);
        if (row) li.append(row);
      }
    }
    const metaLine = el("span", { class: "meta" });
    if (ev.serverTimestamp) metaLine.append(el("time", { datetime: new Date(ev.serverTimestamp).toISOString(), text: formatTime(ev.serverTimestamp) }));
    if (mine && !note) metaLine.append(el("span", { class: "read-mark", "data-testid": "read-mark", hidden: !conv.read.has(String(ev.sequence)), text: " · Read" }));
    li.append(metaLine);
    return li;
  }

  function markRead(conv) {
    for (const li of ui.messages.querySelectorAll("li[data-mine=true]")) {
      if (conv.read.has(li.dataset.seq)) {
        const m = li.querySelector(".read-mark");
        if (m) m.hidden = false;
      }
    }
  }

  function renderHeader(conv) {
    ui.title.textContent = (conv.consumerName || "Consumer") + (conv.ended ? " (ended)" : "");
    for (const c of [ui.transferOpen, ui.close, ui.input, $("agent-send"), ui.quickReplies, ui.privateNote, ui.file]) {
      c.disabled = conv.ended;
    }
    if (conv.ended) closeTransfer();
  }

  function showPanel(show) {
    ui.panel.hidden = !show;
    ui.placeholder.hidden = show;
  }

  function openConv(id) {
    const conv = state.convs.get(id);
    if (!conv) return;
    state.current = id;
    closeTransfer();
    for (const c of state.convs.values()) c.node.firstChild.setAttribute("aria-current", c.id === id ? "true" : "false");
    conv.unread = 0;
    conv.badge.hidden = true;
    showPanel(true);
    renderHeader(conv);
    ui.messages.replaceChildren(...conv.order.map((k) => renderEvent(conv, conv.events.get(k))));
    ui.messages.scrollTop = ui.messages.scrollHeight;
    ui.typing.textContent = conv.typing;
    if (!conv.ended) ui.input.focus();
  }

  // ---- sending ----

  function currentConv() {
    const conv = state.convs.get(state.current);
    return conv && !conv.ended ? conv : null;
  }

  /** parseQuickReplies turns "Yes, No" into a LivePerson quickReplies object, or null. */
  function parseQuickReplies(text) {
    const titles = String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
    if (titles.length === 0) return null;
    return {
      type: "quickReplies",
      itemsPerRow: 8,
      replies: titles.map((t, i) => ({
        type: "button",
        title: t.slice(0, 128),
        click: { actions: [{ type: "publishText", text: t }], metadata: [{ type: "ExternalId", id: "qr-" + (i + 1) }] },
      })),
    };
  }

  ui.composer.addEventListener("submit", async (e) => {
    e.preventDefault();
    const conv = currentConv();
    const text = ui.input.value.trim();
    if (!conv || !text) return;
    const note = ui.privateNote.checked;
    const event = { type: "ContentEvent", contentType: "text/plain", message: text };
    const qr = note ? null : parseQuickReplies(ui.quickReplies.value);
    if (qr) event.quickReplies = qr;
    const req = { dialogId: mainDialog(conv), event };
    if (note) req.messageAudience = "AGENTS_AND_MANAGERS";
    ui.input.value = "";
    ui.quickReplies.value = "";
    ui.privateNote.checked = false;
    stopComposing();
    try {
      await publishLocal(conv, req);
    } catch (err) {
      addEvent(conv, { system: "Not sent: " + err.message });
      ui.input.value = text;
    }
    ui.input.focus();
  });

  // publishLocal publishes req and shows the event at once (the hub's echo
  // of it is recognised by its sequence).
  async function publishLocal(conv, req) {
    const body = await ums.request(".ams.ms.PublishEvent", req);
    if (body && body.sequence !== undefined) {
      onEvent({
        sequence: body.sequence, dialogId: req.dialogId, event: req.event, serverTimestamp: Date.now(),
        originatorId: state.legacyId, originatorMetadata: { id: state.legacyId, role: "ASSIGNED_AGENT" },
        messageAudience: req.messageAudience, conversationId: conv.id,
      }, false);
    }
  }

  ui.input.addEventListener("keydown", (e) => {
    if (picker.keydown(e)) {
      e.preventDefault();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      ui.composer.requestSubmit();
    }
  });

  ui.input.addEventListener("input", () => {
    if (ui.input.value === "/" && Date.now() - cannedLoaded > 30000) loadCanned();
  });

  let composingConv = "";
  let composeTimer = null;
  ui.input.addEventListener("input", () => {
    const conv = currentConv();
    if (!conv || !ums || !ums.connected || ui.privateNote.checked) return;
    if (composingConv !== conv.id) {
      stopComposing();
      composingConv = conv.id;
      ums.request(".ams.ms.PublishEvent", { dialogId: mainDialog(conv), event: { type: "ChatStateEvent", chatState: "COMPOSING" } }).catch(() => {});
    }
    clearTimeout(composeTimer);
    composeTimer = setTimeout(stopComposing, 4000);
  });

  function stopComposing() {
    clearTimeout(composeTimer);
    const conv = state.convs.get(composingConv);
    composingConv = "";
    if (conv && !conv.ended && ums && ums.connected) {
      ums.request(".ams.ms.PublishEvent", { dialogId: mainDialog(conv), event: { type: "ChatStateEvent", chatState: "ACTIVE" } }).catch(() => {});
    }
  }

  // ---- transfer ----

  function updateTransferButton() {
    ui.transfer.disabled = !ui.transferSkill.value && !ui.transferAgent.value;
  }

  function closeTransfer() {
    ui.transferPanel.hidden = true;
    ui.transferOpen.setAttribute("aria-expanded", "false");
  }

  ui.transferOpen.addEventListener("click", () => {
    if (!ui.transferPanel.hidden) { closeTransfer(); return; }
    ui.transferSkill.value = "";
    ui.transferAgent.value = "";
    ui.transferNote.value = "";
    updateTransferButton();
    ui.transferPanel.hidden = false;
    ui.transferOpen.setAttribute("aria-expanded", "true");
    loadAgents();
    ui.transferSkill.focus();
  });
  ui.transferCancel.addEventListener("click", closeTransfer);
  // A skill or an agent: choosing one clears the other.
  ui.transferSkill.addEventListener("change", () => { if (ui.transferSkill.value) ui.transferAgent.value = ""; updateTransferButton(); });
  ui.transferAgent.addEventListener("change", () => { if (ui.transferAgent.value) ui.transferSkill.value = ""; updateTransferButton(); });

  // transfer hands the conversation to a skill (the skill changes) or to an
  // agent (suggested: rung first). A note goes first, as a private note the
  // next agent reads in the history.
  ui.transferPanel.addEventListener("submit", async (e) => {
    e.preventDefault();
    const conv = currentConv();
    const skill = ui.transferSkill.value;
    const agentId = ui.transferAgent.value;
    if (!conv || (!skill && !agentId)) return;
    const agent = state.agents.find((a) => a.id === agentId);
    const target = skill ? skillName(skill) : (agent ? agent.name : agentId);
    const note = ui.transferNote.value.trim();
    ui.transfer.disabled = true;
    try {
      if (note) {
        const event = { type: "ContentEvent", contentType: "text/plain", message: "Transfer note: " + note };
        await publishLocal(conv, { dialogId: mainDialog(conv), event, messageAudience: "AGENTS_AND_MANAGERS" });
      }
      conv.transferTarget = target;
      const fields = [{ field: "ParticipantsChange", type: "REMOVE", role: "ASSIGNED_AGENT", userId: state.legacyId }];
      if (skill) fields.push({ field: "Skill", type: "UPDATE", skill: String(skill) });
      else fields.push({ field: "ParticipantsChange", type: "SUGGEST", role: "ASSIGNED_AGENT", userId: agentId });
      await ums.request(".ams.cm.UpdateConversationField", { conversationId: conv.id, conversationField: fields });
      closeTransfer();
      if (!conv.ended) endConv(conv, "Conversation transferred to " + target + ".");
    } catch (err) {
      conv.transferTarget = "";
      addEvent(conv, { system: "Transfer failed: " + err.message });
      updateTransferButton();
    }
  });

  // ---- files ----

  // The agent sends a file: upload into the conversation, then a
  // hosted/file event the consumer opens with its own token.
  ui.file.addEventListener("change", async () => {
    const file = ui.file.files && ui.file.files[0];
    ui.file.value = "";
    const conv = currentConv();
    if (!file || !conv) return;
    try {
      const form = new FormData();
      form.append("file", file);
      const r = await fetch("/api/account/" + encodeURIComponent(state.account) + "/agent/files?conversationId=" + encodeURIComponent(conv.id),
        { method: "POST", body: form, headers: authHeaders() });
      const up = await r.json().catch(() => null);
      if (!r.ok) throw new Error((up && up.error && up.error.message) || "HTTP " + r.status);
      const event = { type: "ContentEvent", contentType: "hosted/file", message: { relativePath: up.relativePath, fileType: up.fileType, caption: file.name } };
      await publishLocal(conv, { dialogId: mainDialog(conv), event });
    } catch (err) {
      addEvent(conv, { system: "File not sent: " + err.message });
    }
  });

  ui.close.addEventListener("click", async () => {
    const conv = currentConv();
    if (!conv) return;
    try {
      await ums.request(".ams.cm.UpdateConversationField", {
        conversationId: conv.id,
        conversationField: [{ field: "ConversationStateField", conversationState: "CLOSE" }],
      });
      if (!conv.ended) endConv(conv, "Conversation closed.");
    } catch (e) {
      addEvent(conv, { system: "Close failed: " + e.message });
    }
  });

  (async function start() {
    state.account = await resolveAccount();
    updateEmpty();
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"); } catch (e) { saved = null; }
    if (saved && saved.session && saved.account === state.account) {
      state.availability = saved.availability || "ONLINE";
      startSession(saved.session);
    } else {
      ui.username.focus();
    }
  })();
})();
