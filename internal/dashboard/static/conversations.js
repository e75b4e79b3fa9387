// botrelay dashboard: the Conversations page — search (consumer, bot,
// skill, state, start time) and the transcript of one conversation.
// Everything reaches the DOM as text through h(), never as HTML.
"use strict";

(() => {
  const D = window.botrelayDashboard;
  const { h, $, api, can, field, table, toast, fmtTime } = D;
  const PAGE = 50;
  const FILTERS = ["consumer", "bot", "skill", "state", "from", "to"];
  const ROLE_LABELS = { CONSUMER: "Consumer", ASSIGNED_AGENT: "assigned agent", AGENT: "agent", MANAGER: "manager", READER: "reader" };
  const CLOSED_BY = { AGENT: "the agent", CONSUMER: "the consumer", SYSTEM: "the system" };

  // ---- search ----------------------------------------------------------------

  // localInput and isoTime convert between RFC 3339 (the API, the page's
  // address) and the value of a datetime-local input (local time).
  const pad = (n) => String(n).padStart(2, "0");
  function localInput(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return "";
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function isoTime(local) {
    const d = new Date(local);
    return local && !isNaN(d) ? d.toISOString() : "";
  }

  function stateLabel(state) {
    return h("span", { class: "state", "data-state": state, "data-testid": "conversation-state" },
      state === "OPEN" ? "Open" : "Closed");
  }

  // searchForm builds the filter form from the page's query and the
  // account's bots and skills (when the caller may list them).
  function searchForm(params, bots, skills, onSearch) {
    const options = (list, label) => [h("option", { value: "" }, label),
      ...list.map((x) => h("option", { value: String(x.id) }, x.name))];
    const inputs = {
      consumer: h("input", { type: "text", id: "conv-consumer", placeholder: "Consumer ID or name", autocomplete: "off",
        value: params.get("consumer") || "" }),
      bot: bots ? h("select", { id: "conv-bot" }, options(bots, "Any bot"))
        : h("input", { type: "text", id: "conv-bot", placeholder: "Bot ID or name", value: params.get("bot") || "" }),
      skill: skills ? h("select", { id: "conv-skill" }, options(skills, "Any skill"))
        : h("input", { type: "text", id: "conv-skill", placeholder: "Skill ID or name", value: params.get("skill") || "" }),
      state: h("select", { id: "conv-state" }, h("option", { value: "" }, "Open or closed"),
        h("option", { value: "open" }, "Open"), h("option", { value: "closed" }, "Closed")),
      from: h("input", { type: "datetime-local", id: "conv-from", value: localInput(params.get("from")) }),
      to: h("input", { type: "datetime-local", id: "conv-to", value: localInput(params.get("to")) }),
    };
    for (const k of ["bot", "skill", "state"]) if (inputs[k].tagName === "SELECT") inputs[k].value = params.get(k) || "";
    const query = () => {
      const q = new URLSearchParams();
      for (const k of FILTERS) {
        const v = k === "from" || k === "to" ? isoTime(inputs[k].value) : inputs[k].value.trim();
        if (v) q.set(k, v);
      }
      return q;
    };
    const form = h("form", { class: "conversation-search", id: "conversation-search", onsubmit: (e) => { e.preventDefault(); onSearch(query()); } },
      field("Consumer", inputs.consumer), field("Bot", inputs.bot), field("Skill", inputs.skill), field("State", inputs.state),
      field("Started from", inputs.from), field("Started before", inputs.to),
      h("button", { type: "submit", id: "conv-search" }, "Search"),
      h("button", { type: "button", class: "secondary", id: "conv-clear", onclick: () => onSearch(new URLSearchParams()) }, "Clear"));
    return form;
  }

  function resultRow(c) {
    const open = () => { location.hash = "#/conversations/" + encodeURIComponent(c.id); };
    const agents = c.participants.map((p) => p.user.name).join(", ");
    return h("tr", { class: "conversation-row", tabindex: 0, "data-testid": "conversation-row", "data-conversation-id": c.id,
      onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); } },
    h("td", { "data-testid": "conversation-started" }, h("a", { href: "#/conversations/" + encodeURIComponent(c.id) }, fmtTime(c.createdAt))),
    h("td", { "data-testid": "conversation-consumer" }, c.consumer.name),
    h("td", { "data-testid": "conversation-skill" }, c.skill.name),
    h("td", { "data-testid": "conversation-bots" }, c.bots.map((b) => b.name).join(", ") || "—"),
    h("td", { "data-testid": "conversation-agents" }, agents || "—"),
    h("td", {}, stateLabel(c.state)),
    h("td", {}, fmtTime(c.closedAt)));
  }

  async function searchView(params) {
    const gen = D.newView("conversations");
    const [bots, skills] = await Promise.all([
      can("bot:view") ? api("GET", "/bots").catch(() => null) : null,
      can("skill:view") ? api("GET", "/skills").catch(() => null) : null]);
    if (gen !== D.current()) return;
    const results = table("conversations-table", ["Started", "Consumer", "Skill", "Bots", "Agents", "State", "Closed"]);
    const status = h("p", { class: "muted", id: "conversations-empty", hidden: true });
    const more = h("button", { type: "button", class: "secondary", id: "conversations-more", hidden: true }, "Load more");
    const error = h("p", { class: "error", id: "conversations-error", role: "alert" });
    let cursor = null;
    const load = async (append) => {
      const q = new URLSearchParams(params);
      q.set("limit", String(PAGE));
      if (append && cursor) q.set("cursor", cursor);
      error.textContent = "";
      try {
        const page = await api("GET", "/conversations?" + q);
        if (gen !== D.current()) return;
        const tbody = $("tbody", results);
        if (!append) tbody.replaceChildren();
        tbody.append(...page.conversations.map(resultRow));
        cursor = page.nextCursor;
        more.hidden = !cursor;
        status.hidden = tbody.children.length > 0;
        status.textContent = FILTERS.some((k) => params.get(k)) ? "No conversations match the search." : "No conversations yet.";
      } catch (e) {
        error.textContent = e.message;
      }
    };
    more.addEventListener("click", () => load(true));
    D.$("#view").append(
      h("div", { class: "head" }, h("h1", {}, "Conversations")),
      h("p", { class: "muted" }, can("conversation:view-all")
        ? "Every conversation of the account, newest first. Click one for its transcript."
        : "The conversations you took part in, newest first. Click one for its transcript."),
      searchForm(params, bots, skills, (q) => { location.hash = "#/conversations" + (q.toString() ? "?" + q : ""); }),
      error, results, status, more);
    await load(false);
  }

  // ---- transcript --------------------------------------------------------------

  // richContent renders LivePerson structured content as an outline: the
  // containers' elements in order, texts, buttons, images, links and maps
  // as labelled lines.
  function richContent(c) {
    if (!c || typeof c !== "object") return h("span", {}, String(c));
    const kids = (list) => (Array.isArray(list) ? list : []).map(richContent);
    switch (c.type) {
      case "vertical":
      case "horizontal":
        return h("div", { class: "sc-" + c.type, "data-testid": "sc-container" }, kids(c.elements));
      case "carousel":
        return h("div", { class: "sc-carousel", "data-testid": "sc-carousel" }, kids(c.elements));
      case "text":
        return h("p", { class: "sc-text" + (c.style && c.style.bold ? " sc-bold" : ""), "data-testid": "sc-text" }, c.text || "");
      case "button":
        return h("span", { class: "sc-button", "data-testid": "sc-button" }, c.title || "(button)");
      case "image":
        return h("p", { class: "sc-image", "data-testid": "sc-image" }, "Image: ", c.caption || c.tooltip || "", c.url ? " (" + c.url + ")" : "");
      case "link":
        return h("p", { class: "sc-link", "data-testid": "sc-link" }, "Link: ", c.title || c.text || "", c.url ? " (" + c.url + ")" : "");
      case "map":
        return h("p", { class: "sc-map", "data-testid": "sc-map" }, "Map: ", String(c.la), ", ", String(c.lo));
    }
    return h("pre", { class: "sc-other" }, JSON.stringify(c, null, 2));
  }

  function quickReplies(qr) {
    const replies = (qr && Array.isArray(qr.replies)) ? qr.replies : [];
    return h("div", { class: "chips", "data-testid": "quick-replies" },
      replies.map((r) => h("span", { class: "chip", "data-testid": "quick-reply" }, r.title || r.text || "(reply)")));
  }

  // messageBody renders a stored message event: a text (with its quick
  // replies), a file, or rich content.
  function messageBody(ev) {
    if (ev.type === "RichContentEvent") {
      return h("div", { class: "sc-card", "data-testid": "rich-content" }, richContent(ev.content));
    }
    if (ev.contentType === "hosted/file") {
      const m = ev.message || {};
      return h("p", { class: "msg-file" }, "File: ", m.caption || m.relativePath || "", m.fileType ? " (" + m.fileType + ")" : "");
    }
    return [h("p", { class: "msg-text", "data-testid": "message-text" }, typeof ev.message === "string" ? ev.message : JSON.stringify(ev.message)),
      ev.quickReplies ? quickReplies(ev.quickReplies) : null];
  }

  function authorLabel(a) {
    if (a.role === "CONSUMER") return a.name;
    const kind = a.userType === "BOT" ? "bot" : (ROLE_LABELS[a.role] || a.role);
    return a.name + " (" + kind + ")";
  }

  // eventText describes a system event in a sentence.
  function eventText(e) {
    const who = e.user ? e.user.name + (e.user.type === "BOT" ? " (bot)" : "") : "";
    const role = ROLE_LABELS[e.role] || e.role || "";
    switch (e.type) {
      case "CONVERSATION_STARTED": return "Conversation started on skill " + (e.skill ? e.skill.name : "—");
      case "PARTICIPANT_JOINED": return who + " joined as " + role;
      case "PARTICIPANT_LEFT": return who + " left";
      case "AGENT_SUGGESTED": return "Transfer suggested agent " + who;
      case "TRANSFERRED": return "Transferred from skill " + e.fromSkill.name + " to skill " + e.skill.name;
      case "TTR_CHANGED": return "Time to response changed to " + (e.ttr || "") + (e.manualEttr ? ", expected by " + fmtTime(e.manualEttr) : "");
      case "DIALOG_OPENED": return e.dialogType === "POST_SURVEY" ? "Post-conversation survey started" : "Dialog opened";
      case "CONVERSATION_CLOSED": return "Conversation closed by " + (CLOSED_BY[e.by] || e.by || "—");
    }
    return e.type;
  }

  function entry(e) {
    const time = h("time", { class: "at", datetime: e.at }, fmtTime(e.at));
    if (e.kind === "message") {
      const who = e.author.role === "CONSUMER" ? "consumer" : e.author.userType === "BOT" ? "bot" : "agent";
      return h("li", { class: "msg msg-" + who + (e.private ? " private" : ""), "data-testid": "transcript-message",
        "data-kind": "message", "data-author": who, "data-private": String(e.private), "data-sequence": e.sequence },
      h("div", { class: "msg-head" }, h("b", { "data-testid": "message-author" }, authorLabel(e.author)),
        e.private ? h("span", { class: "badge-private", "data-testid": "private-note" }, "Private note — not shown to the consumer") : null,
        time),
      messageBody(e.event));
    }
    if (e.kind === "botError") {
      return h("li", { class: "bot-error", "data-testid": "transcript-bot-error", "data-kind": "botError", "data-code": e.code },
        h("div", { class: "msg-head" }, h("b", {}, "Bot error · " + e.bot.name), time),
        h("code", { "data-testid": "bot-error-code" }, e.code), e.message ? h("p", { class: "muted" }, e.message) : null);
    }
    return h("li", { class: "sys", "data-testid": "transcript-event", "data-kind": "event", "data-type": e.type },
      h("span", { "data-testid": "event-text" }, eventText(e)), time);
  }

  function conversationFacts(c) {
    return [
      ["Consumer", c.consumer.name + " (" + c.consumer.id + ")"],
      ["Skill", c.skill.name],
      ["Bots", c.bots.map((b) => b.name).join(", ") || "—"],
      ["State", c.state === "OPEN" ? "Open" : "Closed" + (c.closeReason ? " by " + (CLOSED_BY[c.closeReason] || c.closeReason) : "")],
      ["Started", fmtTime(c.createdAt)],
      ["Closed", fmtTime(c.closedAt)],
      ["Conversation ID", c.id],
    ];
  }

  async function transcriptView(id) {
    const gen = D.newView("conversations");
    const back = h("a", { href: "#/conversations", id: "conversation-back" }, "← Conversations");
    let t;
    try {
      t = await api("GET", "/conversations/" + encodeURIComponent(id));
    } catch (e) {
      if (gen !== D.current()) return;
      D.$("#view").append(back, h("p", { class: "error", id: "transcript-error", role: "alert" }, e.message));
      return;
    }
    if (gen !== D.current()) return;
    const list = h("ol", { class: "transcript", id: "transcript", "data-testid": "transcript" }, t.transcript.map(entry));
    const dl = h("dl", { class: "facts", id: "conversation-facts" });
    const showFacts = (facts) => dl.replaceChildren(...facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]).flat());
    showFacts(conversationFacts(t.conversation));
    D.$("#view").append(back,
      h("div", { class: "head" }, h("h1", { id: "transcript-title" }, "Conversation with " + t.conversation.consumer.name)), dl, list);
    if (t.conversation.state !== "OPEN") return;
    // An open conversation grows: refresh it while it stays on screen.
    let seen = JSON.stringify(t);
    D.every(gen, async () => {
      const next = await api("GET", "/conversations/" + encodeURIComponent(id));
      const sig = JSON.stringify(next);
      if (gen !== D.current() || sig === seen) return;
      seen = sig;
      showFacts(conversationFacts(next.conversation));
      list.replaceChildren(...next.transcript.map(entry));
    });
  }

  D.page("conversations", (parts, params) => {
    if (parts[0]) return transcriptView(parts[0]);
    return searchView(params).catch((e) => toast(e.message, "error"));
  });
})();
