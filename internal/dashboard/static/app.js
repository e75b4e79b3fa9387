// botrelay dashboard: one page, hash routes, everything through /api/v1.
// No framework and no build step; every piece of data reaches the DOM as
// text (textContent), never as HTML.
"use strict";

(() => {
  const PERMISSIONS = ["bot:view", "bot:create", "bot:start", "bot:stop", "bot:edit", "bot:delete",
    "user:view", "user:manage", "skill:view", "skill:manage", "profile:view", "profile:manage",
    "conversation:handle", "conversation:view-all", "canned:view", "canned:manage", "webhook:manage"];
  const ROLES = ["ADMIN", "CAMPAIGN_MANAGER", "AGENT_MANAGER", "AGENT"];
  const STATE_LABELS = {
    OFFLINE: "Offline", STARTING: "Starting", ONLINE: "Online",
    VENDOR_INTERRUPTION: "Vendor Interruption", SERVICE_INTERRUPTION: "Service Interruption",
  };
  const SURVEY_LABELS = { OPEN: "Open", COMPLETED: "Completed", ERROR: "Error", ABANDONED: "Abandoned" };
  const POLL_MS = 2000;

  // Starting points for the vendor settings of the Connect to A.I. step
  // (docs/vendors/*.md list every setting).
  const FUNCTION_CODE = `function lambda(input, callback) {
  const { message, event } = input.payload;
  if (event && event.name === "WELCOME") {
    return callback(null, { messages: ["Hi! How can I help?"] });
  }
  if (String(message).toLowerCase() === "agent") {
    return callback(null, {
      messages: ["Transferring you to an agent."],
      context: { action: "TRANSFER", actionParameters: { skill: "human" } },
    });
  }
  callback(null, { messages: ["You said: " + message] });
}
`;
  const VENDOR_TEMPLATES = {
    function: { timeoutMs: 5000 },
    custom_endpoint: { baseUrl: "https://bot.example.com", botId: "", environment: "prod", clientId: "", clientSecret: "", tokenUrl: "" },
    watson_v1: { workspaceUrl: "https://api.eu-de.assistant.watson.cloud.ibm.com", workspaceId: "", apiKey: "", versionDate: "2021-06-14" },
    watson_v2: { url: "https://api.eu-de.assistant.watson.cloud.ibm.com", assistantId: "", apiKey: "", versionDate: "2021-11-27" },
    lex_v1: { region: "us-east-1", accessKeyId: "", secretAccessKey: "", botName: "", botAlias: "" },
    lex_v2: { region: "us-east-1", accessKeyId: "", secretAccessKey: "", botId: "", botAliasId: "", localeId: "en_US" },
    dialogflow_es: { languageCode: "en-US", projectId: "", clientEmail: "", privateKey: "" },
    dialogflow_cx: { languageCode: "en", projectId: "", location: "global", agentId: "", clientEmail: "", privateKey: "" },
    directline: { secret: "" },
    ebot7: { appKey: "", botId: "" },
    rasa: { baseUrl: "http://localhost:5005" },
    openai: { baseUrl: "https://api.openai.com/v1", model: "", apiKey: "", systemPrompt: "You are a helpful support bot." },
  };

  const S = {
    csrf: sessionStorage.getItem("botrelay.csrf") || "",
    me: null,
    perms: new Set(),
    gen: 0,
    timers: [],
  };

  // ---- DOM helpers -------------------------------------------------------

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "value") e.value = v;
      else if (k === "checked") e.checked = !!v;
      else if (v === true) e.setAttribute(k, "");
      else e.setAttribute(k, String(v));
    }
    for (const c of kids.flat(Infinity)) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  // nodes flattens a list of children for append/replaceChildren, leaving
  // out null and false (which those would otherwise show as "null").
  const nodes = (...kids) => kids.flat(Infinity).filter((c) => c != null && c !== false);
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => [...(root || document).querySelectorAll(sel)];
  const view = () => $("#view");
  const can = (perm) => S.perms.has(perm);
  const fmtTime = (s) => (s ? new Date(s).toLocaleString() : "—");
  const stateLabel = (s) => STATE_LABELS[s] || s || "—";

  function stateBadge(state, testid) {
    return h("span", { class: "state", "data-state": state, "data-testid": testid || "state" }, stateLabel(state));
  }

  function toast(msg, kind) {
    const t = $("#toast");
    t.textContent = msg;
    t.className = kind || "";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, kind === "error" ? 6000 : 3000);
  }

  function field(label, input, hint) {
    return h("label", { class: "field" }, h("span", { class: "label" }, label), input, hint ? h("span", { class: "hint" }, hint) : null);
  }

  function table(id, headers, testid) {
    return h("table", { class: "table", id, "data-testid": testid || id },
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), h("tbody"));
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // api calls the REST API; opts.signal (an AbortSignal) cancels the call.
  async function api(method, path, body, opts) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && S.csrf) headers["X-CSRF-Token"] = S.csrf;
    const res = await fetch("/api/v1" + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts && opts.signal,
    });
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const err = data && data.error ? data.error : { code: "http", message: res.status + " " + res.statusText };
      if (path !== "/login" && (res.status === 401 || (res.status === 403 && /CSRF/.test(err.message)))) {
        showLogin("Your session has ended; log in again.");
      }
      throw new APIError(res.status, err.code, err.message);
    }
    return data;
  }

  // ---- pages in other files -------------------------------------------------

  // Pages kept in their own files (conversations.js) register here with
  // the helpers they share; route() serves them by their first path part.
  const pages = {};
  window.botrelayDashboard = {
    h, nodes, $, $$, api, can, field, table, toast, fmtTime,
    newView: (navKey) => newView(navKey),
    every: (gen, fn) => every(gen, fn),
    current: () => S.gen,
    page: (name, fn) => { pages[name] = fn; },
  };

  // ---- polling and navigation ---------------------------------------------

  // every runs fn now and then POLL_MS after each run ends, until the view
  // changes.
  function every(gen, fn) {
    const tick = async () => {
      if (gen !== S.gen) return;
      try { await fn(); } catch (e) { if (!(e instanceof APIError)) console.error(e); }
      if (gen === S.gen) S.timers.push(setTimeout(tick, POLL_MS));
    };
    tick();
  }

  function newView(navKey) {
    S.gen++;
    S.timers.forEach(clearTimeout);
    S.timers = [];
    $$("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === navKey));
    view().replaceChildren();
    return S.gen;
  }

  // pages are the bot edit and figures pages and the vendor forms
  // (botpages.js), made once with the helpers above.
  function botPages() {
    if (!botPages.made) {
      botPages.made = window.BotrelayPages.make({ h, $, $$, api, field, toast, newView, every, lookups, can, stateBadge, stateLabel,
        nodes, view, state: () => S });
    }
    return botPages.made;
  }

  function route() {
    if (!S.me) return;
    const [path, query] = (location.hash || "#/bots").replace(/^#\/?/, "").split("?");
    const parts = path.split("/").map(decodeURIComponent);
    if (pages[parts[0]]) return pages[parts[0]](parts.slice(1), new URLSearchParams(query || ""));
    switch (parts[0]) {
      case "surveys": return surveysView(new URLSearchParams(query || ""));
      case "users": return usersView();
      case "skills": return skillsView();
      case "profiles": return profilesView();
      case "canned": return cannedView();
      case "webhooks": return window.BotrelayWebhooks.view(webhookKit(), parts);
      case "bots":
        if (parts[1] === "new") return wizardView();
        if (parts[1] && parts[2] === "edit") return botPages().editView(parts[1]);
        if (parts[1] && parts[2] === "stats") return botPages().statsView(parts[1]);
        if (parts[1]) return botView(parts[1]);
    }
    return botsView();
  }

  // ---- login -------------------------------------------------------------

  function showLogin(message) {
    S.me = null;
    S.gen++;
    S.timers.forEach(clearTimeout);
    $("#nav").hidden = true;
    $("#who").hidden = true;
    view().replaceChildren();
    $("#login-view").hidden = false;
    $("#login-error").textContent = message || "";
    $("#login-username").focus();
  }

  async function loadMe() {
    const me = await api("GET", "/me");
    S.me = me;
    S.perms = new Set(me.permissions);
    $("#login-view").hidden = true;
    $("#nav").hidden = false;
    $("#who").hidden = false;
    $("#who-name").textContent = me.user.nickname || me.user.loginName;
    $$("#nav a").forEach((a) => {
      const need = { users: "user:view", skills: "skill:view", profiles: "profile:view", bots: "bot:view", surveys: "bot:view",
        canned: "canned:view", webhooks: "webhook:manage" }[a.dataset.nav];
      a.hidden = a.dataset.nav !== "conversations" && !can(need); // everyone sees their own conversations
    });
  }

  async function login(ev) {
    ev.preventDefault();
    const btn = $("#login-submit");
    btn.disabled = true;
    $("#login-error").textContent = "";
    try {
      const out = await api("POST", "/login", { loginName: $("#login-username").value.trim(), password: $("#login-password").value });
      S.csrf = out.csrfToken;
      sessionStorage.setItem("botrelay.csrf", S.csrf);
      $("#login-password").value = "";
      await loadMe();
      route();
    } catch (e) {
      $("#login-error").textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  async function logout() {
    try { await api("POST", "/logout"); } catch (e) { /* the session is gone either way */ }
    S.csrf = "";
    sessionStorage.removeItem("botrelay.csrf");
    showLogin("");
  }

  // ---- shared look-ups ------------------------------------------------------

  async function lookups() {
    const [skills, users, profiles, vendors] = await Promise.all([
      can("skill:view") ? api("GET", "/skills") : [],
      can("user:view") ? api("GET", "/users") : [],
      can("profile:view") ? api("GET", "/profiles") : [],
      api("GET", "/vendors"),
    ]);
    return {
      skills, users, profiles, vendors,
      skillName: (id) => (skills.find((s) => s.id === id) || { name: "#" + id }).name,
      user: (id) => users.find((u) => u.id === id),
      profileName: (id) => (profiles.find((p) => p.id === id) || { name: "#" + id }).name,
      vendorName: (id) => (vendors.find((v) => v.id === id) || { displayName: id }).displayName,
    };
  }

  function userSkills(L, userId) {
    const u = L.user(userId);
    if (!u) return "—";
    return u.skillIds.map(L.skillName).join(", ") || "—";
  }

  // startedAt is when the bot last started: the oldest state event since
  // then, for a started bot.
  function startedAt(bot, status) {
    if (!bot.started || !status || !status.history.length) return "—";
    return fmtTime(status.history[status.history.length - 1].at);
  }

  async function lifecycle(btn, bot, action) {
    btn.disabled = true;
    try {
      await api("POST", `/bots/${encodeURIComponent(bot.id)}/${action}`);
      toast(`${bot.name}: ${action === "start" ? "starting" : "stopped"}`);
    } catch (e) {
      toast(`${bot.name}: ${e.message}`, "error");
    } finally {
      btn.disabled = false;
    }
  }

  // ---- bot table -------------------------------------------------------------

  async function botsView() {
    const gen = newView("bots");
    view().append(
      h("div", { class: "head" }, h("h1", {}, "Bots"),
        can("bot:create") ? h("a", { class: "button", href: "#/bots/new", id: "add-bot" }, "+ Add Bot") : null),
      table("bots-table", ["Name", "Type", "Vendor", "State", "Open conversations", "Skills", "Started at", ""]),
      h("p", { class: "muted", id: "bots-empty", hidden: true }, "No bots yet."));
    let L = await lookups();
    let lastLookup = Date.now();
    const rows = new Map();
    every(gen, async () => {
      const bots = await api("GET", "/bots");
      if (bots.some((b) => !L.user(b.userId)) || Date.now() - lastLookup > 30000) {
        L = await lookups();
        lastLookup = Date.now();
      }
      // Statuses come back in the API's order; the table is sorted by
      // name, so each row looks its status up by bot id.
      const statuses = new Map(await Promise.all(bots.map((b) =>
        api("GET", `/bots/${encodeURIComponent(b.id)}/status`).then((st) => [b.id, st], () => [b.id, null]))));
      if (gen !== S.gen) return;
      const tbody = $("#bots-table tbody");
      const seen = new Set();
      bots.sort((a, b) => a.name.localeCompare(b.name));
      bots.forEach((b) => {
        seen.add(b.id);
        let row = rows.get(b.id);
        if (!row) {
          row = botRow(b);
          rows.set(b.id, row);
        }
        updateBotRow(row, b, statuses.get(b.id), L);
        tbody.append(row.tr); // keeps the order; moves existing rows
      });
      for (const [id, row] of rows) {
        if (!seen.has(id)) {
          row.tr.remove();
          rows.delete(id);
        }
      }
      $("#bots-empty").hidden = bots.length > 0;
    });
  }

  function botRow(b) {
    const r = { bot: b };
    r.name = h("a", { href: "#/bots/" + encodeURIComponent(b.id), "data-testid": "bot-link" });
    r.type = h("td");
    r.vendor = h("td");
    r.state = h("span", { class: "state", "data-testid": "bot-state" });
    r.open = h("td", { class: "num", "data-testid": "bot-open" });
    r.skills = h("td");
    r.started = h("td", { "data-testid": "bot-started-at" });
    r.start = h("button", { type: "button", class: "small", "data-testid": "start-bot", onclick: () => lifecycle(r.start, r.bot, "start") }, "Start");
    r.stop = h("button", { type: "button", class: "small danger", "data-testid": "stop-bot", onclick: () => lifecycle(r.stop, r.bot, "stop") }, "Stop");
    r.tr = h("tr", { "data-testid": "bot-row", "data-bot-id": b.id },
      h("td", {}, r.name), r.type, r.vendor, h("td", {}, r.state), r.open, r.skills, r.started,
      h("td", { class: "actions" }, r.start, r.stop));
    return r;
  }

  function updateBotRow(r, b, status, L) {
    r.bot = b;
    r.tr.dataset.name = b.name;
    r.name.textContent = b.name;
    r.type.textContent = b.type === "SURVEY" ? "Survey" : "Agent";
    r.vendor.textContent = L.vendorName(b.vendor);
    const state = status ? status.state : b.state;
    r.state.dataset.state = state;
    r.state.textContent = stateLabel(state);
    r.open.textContent = status ? String(status.openConversations) : "—";
    r.skills.textContent = userSkills(L, b.userId);
    r.started.textContent = startedAt(b, status);
    r.start.hidden = b.started || !can("bot:start");
    r.stop.hidden = (!b.started && state === "OFFLINE") || !can("bot:stop");
  }

  // ---- Add Bot wizard ----------------------------------------------------------

  const STEPS = ["Bot type", "Bot agent", "Conversation type", "Connect to A.I."];

  async function wizardView() {
    const gen = newView("bots");
    if (!can("bot:create")) {
      view().append(h("p", { class: "error" }, "Your profile cannot create bots."));
      return;
    }
    const L = await lookups();
    const bots = await api("GET", "/bots");
    if (gen !== S.gen) return;
    const bound = new Set(bots.map((b) => b.userId));
    const agentProfile = L.profiles.find((p) => p.role === "AGENT" && p.builtIn) || L.profiles[0];
    const botSkill = L.skills.find((s) => s.name === "bot");
    const W = {
      step: 0, type: "AGENT",
      freeUsers: L.users.filter((u) => u.type === "BOT" && !bound.has(u.id)),
      agentMode: "new", userId: 0,
      newUser: { loginName: "", nickname: "", profileId: agentProfile ? agentProfile.id : 0, skillIds: botSkill ? [botSkill.id] : [] },
      conversationType: "MESSAGING",
      messaging: { welcomeMessage: false, combine: { enabled: false, maxMessages: 5, windowSeconds: 3, afterTypingSeconds: 5 }, engagementAttributes: false },
      chat: { warningAfterSeconds: 0, warningMessage: "", closeAfterSeconds: 0, closeMessage: "" },
      errorHandling: {
        escalationSkill: L.skills.some((s) => s.name === "human") ? "human" : (L.skills[0] || { name: "" }).name,
        messageToConsumer: "Something went wrong; let me get you a human agent.",
        messageToAgent: "The bot escalated this conversation after an error.",
        transferFailureMessage: "Sorry, no agent can take this conversation right now. Please try again later.",
      },
      survey: { skills: [], errorMessage: "Unable to complete the survey due to an error. Goodbye" },
      name: "", vendor: "function", vendorSettings: {}, form: null, disclaimer: false,
      draft: null, // the bot created for Test connection: {id, vendor, type, conversationType}
      L,
    };
    // Each vendor's form starts from its template (empty values left out);
    // what is typed is kept while the operator moves between vendors.
    for (const v of L.vendors) {
      const t = Object.fromEntries(Object.entries(VENDOR_TEMPLATES[v.id] || {}).filter(([, x]) => x !== ""));
      W.vendorSettings[v.id] = v.id === "function" ? { code: FUNCTION_CODE, ...t } : t;
    }
    if (W.freeUsers.length) {
      W.agentMode = "existing";
      W.userId = W.freeUsers[0].id;
    }
    view().append(
      h("div", { class: "head" }, h("h1", {}, "Add Bot")),
      h("ol", { class: "stepper", id: "stepper" }, STEPS.map((s, i) => h("li", { "data-index": i }, h("span", { class: "n" }, i + 1), " ", s))),
      h("form", { id: "wizard", class: "panel", novalidate: true, onsubmit: (e) => e.preventDefault() }),
      h("p", { class: "error", id: "wizard-error", role: "alert" }),
      h("div", { class: "wizard-buttons" },
        h("button", { type: "button", class: "secondary", id: "wizard-cancel", onclick: () => cancelWizard(W) }, "Cancel"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "secondary", id: "wizard-back", onclick: () => wizardMove(W, -1) }, "Back"),
        h("button", { type: "button", id: "wizard-next", onclick: () => wizardMove(W, 1) }, "Next"),
        h("button", { type: "button", id: "wizard-create", onclick: () => wizardCreate(W) }, "Create bot")));
    renderStep(W);
  }

  function renderStep(W) {
    const form = $("#wizard");
    form.dataset.step = String(W.step + 1);
    $$("#stepper li").forEach((li, i) => {
      li.classList.toggle("current", i === W.step);
      li.classList.toggle("done", i < W.step);
    });
    $$("#stepper li")[2].lastChild.textContent = (W.type === "SURVEY" ? "Survey configuration" : "Conversation type & error handling");
    $("#wizard-back").hidden = W.step === 0;
    $("#wizard-next").hidden = W.step === STEPS.length - 1;
    $("#wizard-create").hidden = W.step !== STEPS.length - 1;
    $("#wizard-error").textContent = "";
    form.replaceChildren(...nodes([stepType, stepAgent, stepConversation, stepAI][W.step](W)));
    const first = $("input, select, textarea", form);
    if (first) first.focus();
  }

  function radio(name, value, checked, label, id) {
    return h("label", { class: "choice" }, h("input", { type: "radio", name, value, checked, id }), " ", label);
  }

  function stepType(W) {
    return [
      h("h2", {}, "1. Bot type"),
      h("p", { class: "muted" }, "The type cannot change later."),
      h("div", { class: "choices" },
        radio("bot-type", "AGENT", W.type === "AGENT", h("span", {}, h("b", {}, "Agent bot"), " — takes conversations routed to its skills, like an agent."), "type-agent"),
        radio("bot-type", "SURVEY", W.type === "SURVEY", h("span", {}, h("b", {}, "Survey bot"), " — runs post-conversation surveys."), "type-survey")),
    ];
  }

  function stepAgent(W) {
    const L = W.L;
    const existing = h("select", { id: "agent-user", disabled: !W.freeUsers.length },
      W.freeUsers.map((u) => h("option", { value: u.id, selected: u.id === W.userId }, u.loginName + (u.nickname ? ` (${u.nickname})` : ""))));
    const skills = h("div", { class: "checks", id: "new-user-skills" }, L.skills.map((s) =>
      h("label", { class: "choice" }, h("input", { type: "checkbox", value: s.id, checked: W.newUser.skillIds.includes(s.id) }), " ", s.name)));
    return [
      h("h2", {}, "2. Bot agent"),
      h("p", { class: "muted" }, "The bot logs in as its own bot user and takes the conversations of that user's skills."),
      h("div", { class: "choices" },
        radio("agent-mode", "existing", W.agentMode === "existing", "Use an existing bot user", "agent-existing"),
        W.freeUsers.length ? field("Bot user", existing) : h("p", { class: "muted" }, "Every bot user already has a bot."),
        radio("agent-mode", "new", W.agentMode === "new", "Create a new bot user", "agent-new"),
        h("div", { class: "sub" },
          field("Login name", h("input", { type: "text", id: "new-user-login", value: W.newUser.loginName })),
          field("Nickname", h("input", { type: "text", id: "new-user-nickname", value: W.newUser.nickname }), "Shown to consumers."),
          field("Profile", h("select", { id: "new-user-profile" }, L.profiles.map((p) =>
            h("option", { value: p.id, selected: p.id === W.newUser.profileId }, p.name)))),
          field("Skills", skills))),
    ];
  }

  function stepConversation(W) {
    const L = W.L;
    if (W.type === "SURVEY") {
      return [
        h("h2", {}, "3. Survey configuration"),
        field("Skills", h("div", { class: "checks", id: "survey-skills" }, L.skills.map((s) =>
          h("label", { class: "choice" }, h("input", { type: "checkbox", value: s.name, checked: W.survey.skills.includes(s.name) }), " ", s.name))),
        "The conversation skills whose surveys this bot runs."),
        field("Error message", h("input", { type: "text", id: "survey-error", value: W.survey.errorMessage })),
      ];
    }
    const m = W.messaging, c = W.chat, e = W.errorHandling;
    const num = (id, v) => h("input", { type: "number", min: 0, id, value: v });
    return [
      h("h2", {}, "3. Conversation type"),
      h("div", { class: "choices row" },
        radio("conv-type", "MESSAGING", W.conversationType === "MESSAGING", "Messaging", "conv-messaging"),
        radio("conv-type", "CHAT", W.conversationType === "CHAT", "Chat", "conv-chat")),
      h("fieldset", { id: "messaging-settings", hidden: W.conversationType !== "MESSAGING" },
        h("legend", {}, "Messaging"),
        h("label", { class: "choice" }, h("input", { type: "checkbox", id: "welcome-message", checked: m.welcomeMessage }), " Welcome message: greet as soon as the bot gets the conversation"),
        h("label", { class: "choice" }, h("input", { type: "checkbox", id: "combine-enabled", checked: m.combine.enabled }), " Combine messages"),
        h("div", { class: "grid3" },
          field("Max messages", num("combine-max", m.combine.maxMessages)),
          field("Time frame (s)", num("combine-window", m.combine.windowSeconds)),
          field("After typing (s)", num("combine-typing", m.combine.afterTypingSeconds))),
        h("label", { class: "choice" }, h("input", { type: "checkbox", id: "engagement-attributes", checked: m.engagementAttributes }), " Engagement attributes (SDEs)")),
      h("fieldset", { id: "chat-settings", hidden: W.conversationType !== "CHAT" },
        h("legend", {}, "Chat"),
        h("div", { class: "grid2" },
          field("Time until warning (s)", num("chat-warning-after", c.warningAfterSeconds)),
          field("Warning message", h("input", { type: "text", id: "chat-warning", value: c.warningMessage })),
          field("Time until close (s)", num("chat-close-after", c.closeAfterSeconds)),
          field("Close message", h("input", { type: "text", id: "chat-close", value: c.closeMessage })))),
      h("h2", {}, "Error handling"),
      h("div", { class: "grid2" },
        field("Transfer to skill", h("select", { id: "escalation-skill" }, L.skills.map((s) => h("option", { value: s.name, selected: s.name === e.escalationSkill }, s.name))),
          "Where the bot escalates a conversation when anything fails."),
        field("Transfer message to customer", h("input", { type: "text", id: "msg-consumer", value: e.messageToConsumer })),
        field("Transfer message to agent", h("input", { type: "text", id: "msg-agent", value: e.messageToAgent })),
        field("Transfer failure message", h("input", { type: "text", id: "msg-failure", value: e.transferFailureMessage }))),
    ];
  }

  function stepAI(W) {
    const vendors = W.L.vendors.filter((v) => W.type !== "SURVEY" || v.survey);
    if (!vendors.some((v) => v.id === W.vendor) && vendors.length) W.vendor = vendors[0].id;
    const info = W.L.vendors.find((v) => v.id === W.vendor) || { id: W.vendor, secrets: [], endpoint: [], fields: [] };
    const defaultName = W.agentMode === "new" ? (W.newUser.nickname || W.newUser.loginName) :
      ((W.L.user(W.userId) || {}).nickname || (W.L.user(W.userId) || {}).loginName || "");
    return [
      h("h2", {}, "4. Connect to A.I."),
      h("div", { class: "grid2" },
        field("Bot name", h("input", { type: "text", id: "bot-name", value: W.name || defaultName })),
        field("Vendor", h("select", { id: "vendor", onchange: () => { collectAI(W); W.vendor = $("#vendor").value; renderStep(W); } },
          vendors.map((v) => h("option", { value: v.id, selected: v.id === W.vendor }, v.displayName + " (" + v.id + ")"))))),
      (W.form = botPages().vendorForm(info, W.vendorSettings[W.vendor], null)).el,
      h("label", { class: "choice" }, h("input", { type: "checkbox", id: "data-disclaimer", checked: W.disclaimer }),
        " I understand that conversation data is sent to this A.I. vendor (data disclaimer)."),
      h("div", { class: "test-row" },
        h("button", { type: "button", class: "secondary", id: "test-connection", onclick: () => testConnection(W) }, "Test connection"),
        h("button", { type: "button", class: "secondary", id: "test-cancel", hidden: true }, "Cancel test"),
        h("span", { id: "test-result", "data-testid": "test-result", role: "status" })),
    ];
  }

  function checkedValues(sel) {
    return $$(sel + " input:checked").map((i) => i.value);
  }

  function intOf(id) {
    const n = parseInt($("#" + id).value, 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  function collectAI(W) {
    if (!$("#bot-name")) return;
    W.name = $("#bot-name").value.trim();
    if (W.form) W.vendorSettings[W.vendor] = W.form.values();
    W.disclaimer = $("#data-disclaimer").checked;
  }

  // collect reads the current step's fields into W and returns an error
  // message, or "" when the step is complete.
  function collect(W) {
    switch (W.step) {
      case 0:
        W.type = ($("input[name=bot-type]:checked") || { value: "AGENT" }).value;
        return "";
      case 1: {
        W.agentMode = ($("input[name=agent-mode]:checked") || { value: "new" }).value;
        if ($("#agent-user")) W.userId = Number($("#agent-user").value) || 0;
        W.newUser = {
          loginName: $("#new-user-login").value.trim(), nickname: $("#new-user-nickname").value.trim(),
          profileId: Number($("#new-user-profile").value) || 0, skillIds: checkedValues("#new-user-skills").map(Number),
        };
        if (W.agentMode === "existing" && !W.userId) return "Pick a bot user or create one.";
        if (W.agentMode === "new" && !W.newUser.loginName) return "Enter the new bot user's login name.";
        if (W.agentMode === "new" && W.type === "AGENT" && !W.newUser.skillIds.length) return "Give the new bot user at least one skill.";
        return "";
      }
      case 2:
        if (W.type === "SURVEY") {
          W.survey = { skills: checkedValues("#survey-skills"), errorMessage: $("#survey-error").value };
          return W.survey.skills.length ? "" : "Choose at least one skill.";
        }
        W.conversationType = ($("input[name=conv-type]:checked") || { value: "MESSAGING" }).value;
        W.messaging = {
          welcomeMessage: $("#welcome-message").checked, engagementAttributes: $("#engagement-attributes").checked,
          combine: { enabled: $("#combine-enabled").checked, maxMessages: intOf("combine-max"), windowSeconds: intOf("combine-window"), afterTypingSeconds: intOf("combine-typing") },
        };
        W.chat = { warningAfterSeconds: intOf("chat-warning-after"), warningMessage: $("#chat-warning").value, closeAfterSeconds: intOf("chat-close-after"), closeMessage: $("#chat-close").value };
        W.errorHandling = {
          escalationSkill: $("#escalation-skill").value, messageToConsumer: $("#msg-consumer").value,
          messageToAgent: $("#msg-agent").value, transferFailureMessage: $("#msg-failure").value,
        };
        return "";
      case 3:
        collectAI(W);
        return W.name ? "" : "Enter the bot's name.";
    }
    return "";
  }

  function wizardMove(W, delta) {
    const err = collect(W);
    if (delta > 0 && err) {
      $("#wizard-error").textContent = err;
      return;
    }
    W.step = Math.max(0, Math.min(STEPS.length - 1, W.step + delta));
    renderStep(W);
  }

  // vendorSettings returns the vendor settings of the generated form (or
  // its raw JSON box), or throws an Error that says what is wrong.
  function vendorSettings(W) {
    return W.form.read();
  }

  function botBody(W) {
    const settings = { vendor: vendorSettings(W) };
    if (W.type === "SURVEY") {
      settings.survey = W.survey;
    } else {
      settings.errorHandling = W.errorHandling;
      settings.messaging = W.messaging;
      settings.chat = W.chat;
    }
    return {
      name: W.name, type: W.type, conversationType: W.type === "SURVEY" ? "MESSAGING" : W.conversationType,
      vendor: W.vendor, userId: W.userId, settings,
    };
  }

  // saveDraft creates the bot user (when asked for) and the bot, or
  // updates the bot made by an earlier Test connection. Test connection
  // runs on a stored bot, so the wizard stores it first; the bot is
  // created stopped and Cancel deletes it.
  async function saveDraft(W) {
    vendorSettings(W); // a setting the form refuses stops here, before anything is stored
    if (W.agentMode === "new" && !W.createdUserId) {
      const out = await api("POST", "/users", {
        type: "BOT", loginName: W.newUser.loginName, nickname: W.newUser.nickname, profileId: W.newUser.profileId,
        messagingSlots: 999, skillIds: W.newUser.skillIds,
      });
      W.createdUserId = out.user.id;
    }
    W.userId = W.agentMode === "new" ? W.createdUserId : W.userId;
    const body = botBody(W);
    const d = W.draft;
    if (d && (d.vendor !== body.vendor || d.type !== body.type || d.conversationType !== body.conversationType)) {
      await api("DELETE", `/bots/${encodeURIComponent(d.id)}`);
      W.draft = null;
    }
    if (!W.draft) {
      const b = await api("POST", "/bots", body);
      W.draft = { id: b.id, vendor: b.vendor, type: b.type, conversationType: b.conversationType };
    } else {
      await api("PUT", `/bots/${encodeURIComponent(W.draft.id)}`, { name: body.name, userId: body.userId, settings: body.settings });
    }
    return W.draft.id;
  }

  // testConnection saves the draft and runs the vendor's check. While it
  // runs, the result line counts the seconds and Cancel stops it (the
  // request is aborted, which also ends the check on the server). A failed
  // check says what failed and what to look at.
  async function testConnection(W) {
    collectAI(W);
    const out = $("#test-result");
    const btn = $("#test-connection");
    const cancel = $("#test-cancel");
    if (W.testing) return;
    const ctl = new AbortController();
    W.testing = ctl;
    const began = Date.now();
    const secs = () => Math.round((Date.now() - began) / 1000);
    const progress = () => { out.textContent = `Testing the connection… ${secs()} s`; };
    out.className = "";
    out.dataset.ok = "";
    out.dataset.testing = "true";
    progress();
    const ticker = setInterval(progress, 1000);
    btn.disabled = true;
    cancel.hidden = false;
    cancel.onclick = () => ctl.abort();
    const show = (ok, text) => {
      out.dataset.ok = ok;
      out.className = ok === "true" ? "ok" : "error";
      out.textContent = text;
    };
    try {
      const id = await saveDraft(W);
      const r = await api("POST", `/bots/${encodeURIComponent(id)}/test`, undefined, { signal: ctl.signal });
      if (r.ok) show("true", r.checked ? "Connection OK." : "Settings are valid (this vendor has no connection check).");
      else show("false", `Failed after ${secs()} s: ${r.error}. Check the vendor settings (address, credentials) and that botrelay can reach the vendor.`);
    } catch (e) {
      if (ctl.signal.aborted) show("cancelled", "Test cancelled.");
      else show("false", e.message);
    } finally {
      clearInterval(ticker);
      delete out.dataset.testing;
      W.testing = null;
      btn.disabled = false;
      cancel.hidden = true;
    }
  }

  async function wizardCreate(W) {
    const err = collect(W);
    if (err) {
      $("#wizard-error").textContent = err;
      return;
    }
    if (!W.disclaimer) {
      $("#wizard-error").textContent = "Accept the data disclaimer to create the bot.";
      return;
    }
    const btn = $("#wizard-create");
    btn.disabled = true;
    try {
      await saveDraft(W);
      toast(`Bot ${W.name} created. Start it from the table.`);
      location.hash = "#/bots";
    } catch (e) {
      $("#wizard-error").textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  async function cancelWizard(W) {
    if (W.draft) {
      try { await api("DELETE", `/bots/${encodeURIComponent(W.draft.id)}`); } catch (e) { toast(e.message, "error"); }
    }
    location.hash = "#/bots";
  }

  // ---- bot page ------------------------------------------------------------

  async function botView(id) {
    const gen = newView("bots");
    const path = "/bots/" + encodeURIComponent(id);
    let bot;
    try {
      bot = await api("GET", path);
    } catch (e) {
      view().append(h("p", { class: "error" }, e.message));
      return;
    }
    const L = await lookups();
    if (gen !== S.gen) return;
    const user = L.user(bot.userId);
    const state = stateBadge(bot.state, "bot-state");
    const startBtn = h("button", { type: "button", id: "bot-start", "data-testid": "start-bot", onclick: () => lifecycle(startBtn, bot, "start") }, "Start");
    const stopBtn = h("button", { type: "button", class: "danger", id: "bot-stop", "data-testid": "stop-bot", onclick: () => lifecycle(stopBtn, bot, "stop") }, "Stop");
    const editBtn = h("a", { class: "button secondary", id: "bot-edit", href: "#/bots/" + encodeURIComponent(id) + "/edit", hidden: !can("bot:edit") }, "Edit");
    const statsLink = h("a", { class: "button secondary", id: "bot-stats", href: "#/bots/" + encodeURIComponent(id) + "/stats" }, "Figures");
    const delBtn = h("button", { type: "button", class: "secondary", id: "bot-delete", hidden: !can("bot:delete"), onclick: async () => {
      if (!confirm(`Delete bot ${bot.name}? Its bot user stays.`)) return;
      try { await api("DELETE", path); location.hash = "#/bots"; } catch (e) { toast(e.message, "error"); }
    } }, "Delete");
    const dl = (pairs) => h("dl", { class: "facts" }, pairs.map(([k, v, tid]) => [h("dt", {}, k), h("dd", { "data-testid": tid }, v)]));
    const openCount = h("span", { "data-testid": "open-conversations" }, "—");
    const runs = bot.type === "SURVEY" ? surveyRuns("survey-runs-table", null) : null;
    const started = h("span", { "data-testid": "started-at" }, "—");
    view().append(...nodes(
      h("p", {}, h("a", { href: "#/bots" }, "← Bots")),
      h("div", { class: "head" }, h("h1", { id: "bot-title" }, bot.name), state, h("span", { class: "spacer" }), startBtn, stopBtn, statsLink, editBtn, delBtn),
      h("section", { class: "panel" },
        dl([
          ["Type", bot.type === "SURVEY" ? "Survey bot" : "Agent bot"],
          ["Conversation type", bot.conversationType === "CHAT" ? "Chat" : "Messaging"],
          ["A.I. vendor", L.vendorName(bot.vendor)],
          ["Bot user", user ? user.loginName + " (" + L.profileName(user.profileId) + ")" : "#" + bot.userId],
          ["Skills", userSkills(L, bot.userId)],
          ["Failover skill", bot.settings.errorHandling.escalationSkill || "—"],
          ["Open conversations", openCount],
          ["Started at", started],
        ])),
      h("div", { class: "columns" },
        h("section", { class: "panel" }, h("h2", {}, "State history"), h("p", { class: "muted" }, "Since the last start, newest first."),
          table("state-history", ["State", "At", "Error"])),
        h("section", { class: "panel" }, h("h2", {}, "Recent errors"), h("p", { class: "muted" }, "State changes caused by errors."),
          table("recent-errors", ["At", "State", "Code", "Message"]), h("p", { class: "muted", id: "recent-errors-empty" }, "None."))),
      h("section", { class: "panel" }, h("h2", {}, "Conversation error log"),
        table("error-log", ["At", "Conversation", "Code", "Message", "Details"]),
        h("p", { class: "muted", id: "error-log-empty" }, "No conversation errors.")),
      h("section", { class: "panel" }, h("h2", {}, "Open conversations"),
        table("open-conversations-table", ["Conversation", "Consumer", "Escalations", "Since", "Last activity"]),
        h("p", { class: "muted", id: "open-empty" }, "None.")),
      runs ? h("section", { class: "panel", id: "survey-runs" },
        h("div", { class: "head" }, h("h2", {}, "Survey runs"), h("span", { class: "spacer" }),
          h("a", { href: "#/surveys?botId=" + encodeURIComponent(bot.id), id: "survey-runs-all" }, "All runs →")),
        h("p", { class: "muted" }, "The last 20 runs, newest first. Click a run for its answers and result."),
        runs.table, h("p", { class: "muted", id: "survey-runs-empty", hidden: true }, "No survey runs yet.")) : null,
      can("bot:edit") ? testerPanel(bot) : null));

    every(gen, async () => {
      const [b, st, errs, convs, surveys] = await Promise.all([api("GET", path), api("GET", path + "/status"),
        api("GET", path + "/errors?limit=100"), api("GET", path + "/conversations"),
        runs ? api("GET", "/surveys?botId=" + encodeURIComponent(bot.id) + "&limit=20") : null]);
      if (gen !== S.gen) return;
      if (runs) {
        runs.update(surveys);
        $("#survey-runs-empty").hidden = surveys.length > 0;
      }
      bot = b;
      state.dataset.state = st.state;
      state.textContent = stateLabel(st.state);
      startBtn.hidden = b.started || !can("bot:start");
      stopBtn.hidden = (!b.started && st.state === "OFFLINE") || !can("bot:stop");
      openCount.textContent = String(st.openConversations);
      started.textContent = startedAt(b, st);
      fill("#state-history", st.history.map((e) => [stateBadge(e.state), fmtTime(e.at), e.code ? e.code + ": " + (e.message || "") : ""]));
      const recent = st.history.filter((e) => e.code).slice(0, 20);
      fill("#recent-errors", recent.map((e) => [fmtTime(e.at), stateLabel(e.state), e.code, e.message || ""]));
      $("#recent-errors-empty").hidden = recent.length > 0;
      fill("#error-log", errs.map((e) => [fmtTime(e.at), e.conversationId, e.code, e.message,
        e.details ? h("details", {}, h("summary", {}, "JSON"), h("pre", {}, JSON.stringify(e.details, null, 2))) : ""]));
      $("#error-log-empty").hidden = errs.length > 0;
      fill("#open-conversations-table", convs.map((c) => [c.conversationId, c.consumerId, String(c.escalations), fmtTime(c.createdAt), fmtTime(c.updatedAt)]));
      $("#open-empty").hidden = convs.length > 0;
    });
  }

  function fill(sel, rows) {
    $(sel + " tbody").replaceChildren(...rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))));
  }

  // ---- conversation tester ----------------------------------------------------

  function testerPanel(bot) {
    const T = { conversationId: "", busy: false };
    const log = h("div", { id: "tester-log", class: "tester-log", "data-testid": "tester-log" });
    const input = h("input", { type: "text", id: "tester-input", placeholder: "Write as the consumer…", autocomplete: "off" });
    const info = h("span", { class: "muted", id: "tester-conversation" }, "New conversation");
    const send = async (kind, text) => {
      if (T.busy) return;
      T.busy = true;
      $$("#tester-form button").forEach((b) => { b.disabled = true; });
      const turn = h("div", { class: "turn", "data-testid": "tester-turn", "data-status": "PENDING" });
      if (kind === "TEXT") turn.append(h("div", { class: "bubble consumer", "data-kind": "consumer" }, text));
      else turn.append(h("div", { class: "event" }, "Welcome event"));
      log.append(turn);
      log.scrollTop = log.scrollHeight;
      try {
        const body = { kind, text: kind === "TEXT" ? text : "" };
        if (T.conversationId) body.conversationId = T.conversationId;
        const r = await api("POST", `/bots/${encodeURIComponent(bot.id)}/converse`, body);
        T.conversationId = r.conversationId;
        info.textContent = `Conversation ${r.conversationId} · turn ${r.turn}`;
        renderTurn(turn, r, (t) => send("TEXT", t));
      } catch (e) {
        if (e.status === 404 && T.conversationId) T.conversationId = "";
        turn.dataset.status = "FAILED";
        turn.append(h("div", { class: "turn-status error" }, e.message));
      } finally {
        T.busy = false;
        $$("#tester-form button").forEach((b) => { b.disabled = false; });
        log.scrollTop = log.scrollHeight;
      }
    };
    const form = h("form", { id: "tester-form", class: "tester-form", onsubmit: (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      send("TEXT", text);
    } },
    input,
    h("button", { type: "submit", id: "tester-send" }, "Send"),
    h("button", { type: "button", class: "secondary", id: "tester-start", onclick: () => send("START", "") }, "Send welcome event"),
    h("button", { type: "button", class: "secondary", id: "tester-reset", onclick: () => {
      T.conversationId = "";
      log.replaceChildren();
      info.textContent = "New conversation";
    } }, "New conversation"));
    return h("section", { class: "panel", id: "tester" },
      h("div", { class: "head" }, h("h2", {}, "Conversation tester"), h("span", { class: "spacer" }), info),
      h("p", { class: "muted" }, "Chat with the bot's vendor directly, whether or not the bot runs. Nothing is published, actions are shown but not carried out, and hooks do not run."),
      log, form);
  }

  function renderTurn(turn, r, sendText) {
    turn.dataset.status = r.status;
    const replies = h("div", { class: "replies" });
    for (const it of (r.reply && r.reply.items) || []) {
      if (it.delay) {
        replies.append(h("div", { class: "event" }, `Delay ${(it.delay.duration / 1e9).toFixed(1)} s${it.delay.typing ? " with typing" : ""}`));
        continue;
      }
      const m = it.message;
      if (!m) continue;
      const note = m.audience && m.audience !== "ALL";
      const b = h("div", { class: "bubble bot" + (note ? " note" : ""), "data-kind": note ? "note" : "bot", "data-testid": "tester-reply" });
      if (note) b.append(h("span", { class: "tag" }, "Private note"), " ");
      if (m.text) b.append(m.text);
      if (m.structuredContent) b.append(h("details", {}, h("summary", {}, "Structured content"), h("pre", {}, JSON.stringify(m.structuredContent, null, 2))));
      const qr = m.quickReplies && Array.isArray(m.quickReplies.replies) ? m.quickReplies.replies : [];
      if (qr.length) {
        b.append(h("div", { class: "chips" }, qr.map((q) => {
          const act = ((q.click && q.click.actions) || []).find((a) => a.type === "publishText");
          const text = act ? act.text : q.title;
          return h("button", { type: "button", class: "chip", "data-testid": "tester-quick-reply", onclick: () => sendText(text) }, q.title || text);
        })));
      }
      replies.append(b);
    }
    const a = r.reply && r.reply.action;
    if (a) {
      const target = a.kind === "TRANSFER" ? (a.agentId ? "agent " + a.agentId : "skill " + a.skill) :
        a.kind === "CLOSE_CONVERSATION" ? (a.withoutPcs ? "without survey" : "with survey") :
          a.kind === "CHANGE_TTR" ? a.ttr + (a.ttrSeconds ? ` (${a.ttrSeconds} s)` : "") : a.functionId || "";
      replies.append(h("div", { class: "event action", "data-testid": "tester-action" }, `Action: ${a.kind} → ${target}`));
    }
    if (r.reply && r.reply.skipped && r.reply.skipped.length) replies.append(h("div", { class: "event" }, "Skipped: " + r.reply.skipped.join(", ")));
    turn.append(replies);
    turn.append(h("div", { class: "turn-status " + (r.status === "PROCESSED" ? "ok" : "error"), "data-testid": "tester-status" },
      r.status === "PROCESSED" ? `Processed · ${r.durationMs} ms` : `${r.error.code}: ${r.error.message}`));
    const pretty = (v) => (v == null ? "(none)" : JSON.stringify(v, null, 2));
    turn.append(h("details", { class: "vendor", open: true, "data-testid": "vendor-panel" },
      h("summary", {}, r.vendor.raw ? "Vendor request and reply" : "Turn and translated reply"),
      r.vendor.note ? h("p", { class: "muted" }, r.vendor.note) : null,
      h("div", { class: "grid2" },
        h("div", {}, h("h3", {}, "Request"), h("pre", { "data-testid": "vendor-request" }, pretty(r.vendor.request))),
        h("div", {}, h("h3", {}, "Reply"), h("pre", { "data-testid": "vendor-response" }, pretty(r.vendor.response))))));
    // Only the latest turn keeps its vendor panel open.
    $$("#tester-log details.vendor").forEach((d) => { if (d.parentNode !== turn) d.open = false; });
  }

  // ---- surveys -----------------------------------------------------------------

  function surveyBadge(state) {
    return h("span", { class: "state", "data-state": state, "data-testid": "survey-state" }, SURVEY_LABELS[state] || state || "—");
  }

  // surveyDetail is the expanded part of a survey run: its answers in
  // order, the result as pretty JSON and the error, all as text.
  function surveyDetail(run) {
    const answers = run.answers || [];
    const pretty = (v) => JSON.stringify(v, null, 2);
    return h("div", { class: "survey-detail" },
      h("dl", { class: "facts" },
        h("dt", {}, "Dialog"), h("dd", {}, run.dialogId || "—"),
        h("dt", {}, "Consumer"), h("dd", {}, run.consumerId || "—"),
        h("dt", {}, "Skill"), h("dd", {}, run.skillId ? String(run.skillId) : "—"),
        h("dt", {}, "Bot ID"), h("dd", {}, run.botId)),
      h("h3", {}, "Answers"),
      answers.length ? h("ol", { class: "survey-answers", "data-testid": "survey-answers" }, answers.map((a) =>
        h("li", { "data-testid": "survey-answer", "data-sequence": a.sequence },
          h("div", { class: "survey-q", "data-testid": "survey-question" }, a.question || "(no question)"),
          h("div", { class: "survey-a" },
            h("span", { class: "arrow", "aria-hidden": "true" }, "→ "),
            h("span", { "data-testid": "survey-answer-text" }, a.answer || (a.richContent ? "(rich content)" : "(empty)")),
            h("span", { class: "survey-at" }, fmtTime(a.at))),
          a.richContent ? h("details", {}, h("summary", {}, "Rich content"), h("pre", {}, pretty(a.richContent))) : null)))
        : h("p", { class: "muted" }, "No answers."),
      h("h3", {}, "Result"),
      run.result == null ? h("p", { class: "muted", "data-testid": "survey-result" }, "(none)")
        : h("pre", { "data-testid": "survey-result" }, pretty(run.result)),
      run.error ? [h("h3", {}, "Error"), h("p", { class: "error", "data-testid": "survey-error" }, run.error)] : null);
  }

  // surveyRuns is a table of survey runs (botName set: with a bot column)
  // whose rows expand to the run's answers. update keeps the rows of runs
  // it showed before, and whether they are expanded.
  function surveyRuns(id, botName) {
    const headers = ["Conversation", botName ? "Bot" : null, "State", "Started", "Ended", "Answers"].filter((x) => x);
    const el = table(id, headers);
    el.classList.add("survey-table");
    const rows = new Map();
    const toggle = (r) => {
      r.open = !r.open;
      r.tr.setAttribute("aria-expanded", String(r.open));
      r.detail.hidden = !r.open;
    };
    const update = (runs) => {
      const tbody = $("tbody", el);
      const seen = new Set();
      for (const run of runs) {
        const key = run.dialogId || run.conversationId + "/" + run.startedAt;
        seen.add(key);
        let r = rows.get(key);
        if (!r) {
          r = { open: false, sig: "" };
          r.tr = h("tr", { class: "survey-row", tabindex: 0, "aria-expanded": "false", "data-testid": "survey-row",
            onclick: () => toggle(r),
            onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(r); } } });
          r.cell = h("td", { colspan: headers.length });
          r.detail = h("tr", { class: "survey-detail-row", "data-testid": "survey-detail", hidden: true }, r.cell);
          rows.set(key, r);
        }
        const name = botName ? botName(run.botId) : "";
        const sig = JSON.stringify(run) + "\n" + name;
        if (sig !== r.sig) {
          r.sig = sig;
          Object.assign(r.tr.dataset, { dialogId: run.dialogId, conversationId: run.conversationId, botId: run.botId, state: run.state });
          const n = (run.answers || []).length;
          r.tr.replaceChildren(...[
            h("td", {}, h("span", { class: "caret", "aria-hidden": "true" }), h("code", { "data-testid": "survey-conversation" }, run.conversationId)),
            botName ? h("td", { "data-testid": "survey-bot" }, name) : null,
            h("td", {}, surveyBadge(run.state)),
            h("td", { "data-testid": "survey-started" }, fmtTime(run.startedAt)),
            h("td", { "data-testid": "survey-ended" }, fmtTime(run.endedAt)),
            h("td", { class: "num", "data-testid": "survey-answer-count" }, String(n)),
          ].filter((c) => c));
          r.cell.replaceChildren(surveyDetail(run));
        }
        tbody.append(r.tr, r.detail); // keeps the order; moves existing rows
      }
      for (const [key, r] of rows) {
        if (!seen.has(key)) {
          r.tr.remove();
          r.detail.remove();
          rows.delete(key);
        }
      }
    };
    return { table: el, update };
  }

  async function surveysView(params) {
    const gen = newView("surveys");
    const botSelect = h("select", { id: "survey-bot", "aria-label": "Bot" }, h("option", { value: "" }, "All bots"));
    const convInput = h("input", { type: "text", id: "survey-conversation", placeholder: "Conversation ID", autocomplete: "off",
      value: params.get("conversationId") || "" });
    let bots = [];
    const botName = (id) => {
      const b = bots.find((x) => x.id === id);
      return b ? b.name : "Deleted bot " + String(id).slice(0, 8);
    };
    const runs = surveyRuns("surveys-table", botName);
    const status = h("p", { class: "muted", id: "surveys-empty", hidden: true }, "No survey runs.");
    let seq = 0;
    const load = async () => {
      const mine = ++seq;
      const q = new URLSearchParams();
      if (botSelect.value) q.set("botId", botSelect.value);
      if (convInput.value.trim()) q.set("conversationId", convInput.value.trim());
      q.set("limit", "100");
      const [list, b] = await Promise.all([api("GET", "/surveys?" + q), api("GET", "/bots")]);
      if (gen !== S.gen || mine !== seq) return;
      bots = b;
      const want = botSelect.value;
      const options = [...bots].sort((x, y) => x.name.localeCompare(y.name)).map((x) => [x.id, x.name]);
      if (want && !bots.some((x) => x.id === want)) options.push([want, botName(want)]);
      const sig = JSON.stringify(options);
      if (botSelect.dataset.sig !== sig) {
        botSelect.dataset.sig = sig;
        botSelect.replaceChildren(h("option", { value: "" }, "All bots"), ...options.map(([v, n]) => h("option", { value: v }, n)));
        botSelect.value = want;
      }
      runs.update(list);
      status.hidden = list.length > 0;
      status.textContent = botSelect.value || convInput.value.trim() ? "No survey runs match the filter." : "No survey runs yet.";
    };
    const reload = () => load().catch((e) => toast(e.message, "error"));
    if (params.get("botId")) {
      botSelect.append(h("option", { value: params.get("botId") }, params.get("botId")));
      botSelect.value = params.get("botId");
    }
    botSelect.addEventListener("change", reload);
    view().append(
      h("div", { class: "head" }, h("h1", {}, "Surveys")),
      h("p", { class: "muted" }, "Post-conversation survey runs, newest first (the latest 100). Click a run for its answers and result."),
      h("form", { class: "filters", id: "survey-filter", onsubmit: (e) => { e.preventDefault(); reload(); } },
        field("Bot", botSelect), field("Conversation", convInput),
        h("button", { type: "submit", id: "survey-filter-apply" }, "Filter"),
        h("button", { type: "button", class: "secondary", id: "survey-filter-clear", onclick: () => {
          botSelect.value = "";
          convInput.value = "";
          reload();
        } }, "Clear")),
      runs.table, status);
    every(gen, load);
  }

  // ---- users ---------------------------------------------------------------

  async function usersView() {
    const gen = newView("users");
    const L = await lookups();
    if (gen !== S.gen) return;
    const manage = can("user:manage");
    view().append(h("div", { class: "head" }, h("h1", {}, "Users")),
      table("users-table", ["ID", "Login name", "Nickname", "Type", "Profile", "Skills", "Enabled", ""]));
    const render = (users) => fill("#users-table", users.map((u) => [String(u.id), u.loginName, u.nickname || "", u.type === "BOT" ? "Bot" : "Human",
      L.profileName(u.profileId), u.skillIds.map(L.skillName).join(", "), u.enabled ? "Yes" : "No",
      manage && u.id !== S.me.user.id ? h("span", { class: "actions" },
        h("button", { type: "button", class: "small secondary", onclick: async () => {
          try {
            await api("PUT", "/users/" + u.id, { loginName: u.loginName, nickname: u.nickname, email: u.email, profileId: u.profileId,
              chatSlots: u.chatSlots, messagingSlots: u.messagingSlots, skillIds: u.skillIds, enabled: !u.enabled });
            usersView();
          } catch (e) { toast(e.message, "error"); }
        } }, u.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "small danger", onclick: async () => {
          if (!confirm(`Delete user ${u.loginName}?`)) return;
          try { await api("DELETE", "/users/" + u.id); usersView(); } catch (e) { toast(e.message, "error"); }
        } }, "Delete")) : ""]));
    render(L.users);
    $$("#users-table tbody tr").forEach((tr, i) => { tr.dataset.testid = "user-row"; tr.dataset.login = L.users[i].loginName; });
    if (!manage) return;
    const result = h("div", { id: "user-created", class: "notice", role: "status", hidden: true });
    // New users get the built-in Agent profile unless the admin picks
    // another: the least privileged choice is the default.
    const agent = L.profiles.find((p) => p.role === "AGENT" && p.builtIn) || L.profiles.find((p) => p.role === "AGENT");
    const defaultProfile = agent ? agent.id : null;
    const type = h("select", { id: "user-type" }, h("option", { value: "HUMAN" }, "Human agent"), h("option", { value: "BOT" }, "Bot user"));
    const form = h("form", { class: "panel", id: "user-form", onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        type: type.value, loginName: $("#user-login").value.trim(), nickname: $("#user-nickname").value.trim(),
        email: $("#user-email").value.trim(), profileId: Number($("#user-profile").value),
        messagingSlots: Number($("#user-slots").value) || 0, skillIds: checkedValues("#user-skills").map(Number),
      };
      if (type.value === "HUMAN" && $("#user-password").value) body.password = $("#user-password").value;
      try {
        const out = await api("POST", "/users", body);
        await usersView();
        const box = $("#user-created");
        box.hidden = false;
        box.replaceChildren(...createdUserNotice(out));
      } catch (err) { $("#user-error").textContent = err.message; }
    } },
    h("h2", {}, "Add user"),
    h("div", { class: "grid3" },
      field("Type", type),
      field("Login name", h("input", { type: "text", id: "user-login", required: true })),
      field("Nickname", h("input", { type: "text", id: "user-nickname" })),
      field("Email", h("input", { type: "text", id: "user-email" })),
      field("Profile", h("select", { id: "user-profile" }, L.profiles.map((p) => h("option", { value: p.id, selected: p.id === defaultProfile }, p.name)))),
      field("Messaging slots", h("input", { type: "number", id: "user-slots", min: 0, value: 5 })),
      field("Password", h("input", { type: "password", id: "user-password", autocomplete: "new-password" }), "Humans only; empty generates one.")),
    field("Skills", h("div", { class: "checks", id: "user-skills" }, L.skills.map((s) => h("label", { class: "choice" }, h("input", { type: "checkbox", value: s.id }), " ", s.name)))),
    h("p", { class: "error", id: "user-error", role: "alert" }),
    h("button", { type: "submit", id: "user-submit" }, "Add user"));
    view().append(result, form);
  }

  // createdUserNotice shows what POST /users returns only once: the
  // generated password of a human and the API key set of a bot user.
  function createdUserNotice(out) {
    const secret = (label, value, testid) => [h("dt", {}, label), h("dd", {}, h("code", { "data-testid": testid }, value))];
    const k = out.apiKey;
    return nodes(
      h("p", {}, h("b", {}, `Created ${out.user.loginName}.`), " Copy these now: they are shown once and cannot be shown again."),
      out.generatedPassword ? h("dl", { class: "facts" }, secret("Password", out.generatedPassword, "created-password")) : null,
      k ? [h("h3", {}, "API key set"), h("dl", { class: "facts", "data-testid": "created-api-key" },
        secret("App key", k.appKey, "created-app-key"), secret("Secret", k.secret, "created-secret"),
        secret("Access token", k.accessToken, "created-access-token"),
        secret("Access token secret", k.accessTokenSecret, "created-access-token-secret"))] : null);
  }

  // ---- skills --------------------------------------------------------------

  async function skillsView() {
    const gen = newView("skills");
    const skills = await api("GET", "/skills");
    if (gen !== S.gen) return;
    const manage = can("skill:manage");
    view().append(h("div", { class: "head" }, h("h1", {}, "Skills")), table("skills-table", ["ID", "Name", "Description", "Post-conversation survey", ""]));
    fill("#skills-table", skills.map((s) => [String(s.id), s.name, s.description, s.postSurvey ? "Yes" : "No",
      manage ? h("button", { type: "button", class: "small danger", onclick: async () => {
        if (!confirm(`Delete skill ${s.name}? It is removed from every user.`)) return;
        try { await api("DELETE", "/skills/" + s.id); skillsView(); } catch (e) { toast(e.message, "error"); }
      } }, "Delete") : ""]));
    if (!manage) return;
    view().append(h("form", { class: "panel", id: "skill-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/skills", { name: $("#skill-name").value.trim(), description: $("#skill-description").value.trim(), postSurvey: $("#skill-survey").checked });
        toast("Skill added.");
        skillsView();
      } catch (err) { $("#skill-error").textContent = err.message; }
    } },
    h("h2", {}, "Add skill"),
    h("div", { class: "grid2" },
      field("Name", h("input", { type: "text", id: "skill-name", required: true })),
      field("Description", h("input", { type: "text", id: "skill-description" }))),
    h("label", { class: "choice" }, h("input", { type: "checkbox", id: "skill-survey" }), " Post-conversation survey"),
    h("p", { class: "error", id: "skill-error", role: "alert" }),
    h("button", { type: "submit", id: "skill-submit" }, "Add skill")));
  }

  // ---- profiles ------------------------------------------------------------

  async function profilesView() {
    const gen = newView("profiles");
    const profiles = await api("GET", "/profiles");
    if (gen !== S.gen) return;
    const manage = can("profile:manage");
    view().append(h("div", { class: "head" }, h("h1", {}, "Profiles")), table("profiles-table", ["Name", "Role", "Built in", "Permissions", ""]));
    fill("#profiles-table", profiles.map((p) => [h("span", { title: p.description }, p.name), p.role, p.builtIn ? "Yes" : "No",
      h("span", { class: "perms" }, p.permissions.map((x) => h("code", {}, x))),
      manage && !p.builtIn ? h("button", { type: "button", class: "small danger", onclick: async () => {
        if (!confirm(`Delete profile ${p.name}?`)) return;
        try { await api("DELETE", "/profiles/" + p.id); profilesView(); } catch (e) { toast(e.message, "error"); }
      } }, "Delete") : ""]));
    if (!manage) return;
    view().append(h("form", { class: "panel", id: "profile-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/profiles", { name: $("#profile-name").value.trim(), description: $("#profile-description").value.trim(),
          role: $("#profile-role").value, permissions: checkedValues("#profile-permissions") });
        toast("Profile added.");
        profilesView();
      } catch (err) { $("#profile-error").textContent = err.message; }
    } },
    h("h2", {}, "Add profile"),
    h("p", { class: "muted" }, "For example a Campaign Manager–based profile with only bot:create and bot:start lets an operator create and start bots."),
    h("div", { class: "grid3" },
      field("Name", h("input", { type: "text", id: "profile-name", required: true })),
      field("Description", h("input", { type: "text", id: "profile-description" })),
      field("Role", h("select", { id: "profile-role" }, ROLES.map((r) => h("option", { value: r }, r))))),
    field("Permissions", h("div", { class: "checks", id: "profile-permissions" }, PERMISSIONS.map((x) =>
      h("label", { class: "choice" }, h("input", { type: "checkbox", value: x }), " ", x)))),
    h("p", { class: "error", id: "profile-error", role: "alert" }),
    h("button", { type: "submit", id: "profile-submit" }, "Add profile")));
  }

  // ---- canned replies ---------------------------------------------------------

  // cannedView lists the account's canned replies (what agents insert with
  // "/" in the agent console); with canned:manage it adds, edits and
  // deletes them. One form adds or, after Edit, saves a reply.
  async function cannedView() {
    const gen = newView("canned");
    const replies = await api("GET", "/canned-replies");
    if (gen !== S.gen) return;
    const manage = can("canned:manage");
    view().append(h("div", { class: "head" }, h("h1", {}, "Canned replies")),
      h("p", { class: "muted" }, "Agents type / in the agent console's reply box to pick one of these; it is inserted for them to send."),
      table("canned-table", ["Title", "Text", ""]));
    const empty = replies.length === 0 ? [[h("span", { class: "muted" }, "No canned replies yet."), "", ""]] : [];
    fill("#canned-table", empty.concat(replies.map((c) => [h("b", { "data-testid": "canned-title" }, c.title),
      h("span", { class: "canned-text", "data-testid": "canned-text" }, c.text),
      manage ? h("span", { class: "actions" },
        h("button", { type: "button", class: "small secondary", "data-testid": "edit-canned", onclick: () => editCanned(c) }, "Edit"), " ",
        h("button", { type: "button", class: "small danger", "data-testid": "delete-canned", onclick: async () => {
          if (!confirm(`Delete the canned reply "${c.title}"?`)) return;
          try { await api("DELETE", "/canned-replies/" + c.id); toast("Canned reply deleted."); cannedView(); } catch (e) { toast(e.message, "error"); }
        } }, "Delete")) : ""])));
    $$("#canned-table tbody tr").forEach((tr, i) => { if (replies[i]) Object.assign(tr.dataset, { cannedId: String(replies[i].id), testid: "canned-row" }); });
    if (!manage) return;
    view().append(h("form", { class: "panel", id: "canned-form", onsubmit: saveCanned },
      h("h2", { id: "canned-form-title" }, "Add canned reply"),
      field("Title", h("input", { type: "text", id: "canned-title", required: true, maxlength: 80 }), "What agents type after / to find it; unique."),
      field("Text", h("textarea", { id: "canned-text", rows: 4, required: true, maxlength: 4000 })),
      h("p", { class: "error", id: "canned-error", role: "alert" }),
      h("button", { type: "submit", id: "canned-submit" }, "Add canned reply"), " ",
      h("button", { type: "button", class: "secondary", id: "canned-cancel", hidden: true, onclick: () => cannedView() }, "Cancel")));
  }

  function editCanned(c) {
    const form = $("#canned-form");
    form.dataset.editId = String(c.id);
    $("#canned-form-title").textContent = "Edit canned reply";
    $("#canned-submit").textContent = "Save";
    $("#canned-cancel").hidden = false;
    $("#canned-title").value = c.title;
    $("#canned-text").value = c.text;
    $("#canned-error").textContent = "";
    $("#canned-title").focus();
  }

  async function saveCanned(e) {
    e.preventDefault();
    const id = $("#canned-form").dataset.editId;
    const body = { title: $("#canned-title").value.trim(), text: $("#canned-text").value.trim() };
    try {
      if (id) await api("PUT", "/canned-replies/" + id, body);
      else await api("POST", "/canned-replies", body);
      toast(id ? "Canned reply saved." : "Canned reply added.");
      cannedView();
    } catch (err) { $("#canned-error").textContent = err.message; }
  }

  // webhookKit gives webhooks.js the helpers it renders with.
  function webhookKit() {
    return { h, $, $$, S, api, newView, table, fill, toast, field, fmtTime, every, view };
  }

  // ---- start -----------------------------------------------------------------

  // Count Content-Security-Policy violations where tests can see them.
  document.addEventListener("securitypolicyviolation", (e) => {
    document.body.dataset.cspViolations = String(Number(document.body.dataset.cspViolations || 0) + 1);
    console.error("CSP violation:", e.violatedDirective, e.blockedURI);
  });

  document.addEventListener("DOMContentLoaded", async () => {
    $("#login-form").addEventListener("submit", login);
    $("#logout").addEventListener("click", logout);
    window.addEventListener("hashchange", route);
    try {
      await loadMe();
      if (!S.csrf) {
        // The cookie survived but the CSRF token did not (a new tab):
        // reads work, changes would not, so log in again.
        showLogin("Log in to continue.");
        return;
      }
      route();
    } catch (e) {
      showLogin("");
    }
  });
})();
