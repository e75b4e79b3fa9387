// botrelay dashboard: the vendor settings forms generated from
// GET /api/v1/vendors, the bot edit page (#/bots/{id}/edit) and the bot
// figures page with its charts (#/bots/{id}/stats). app.js calls
// BotrelayPages.make(ui) with its helpers; every piece of data reaches the
// DOM as text, never as HTML, and the charts are SVG drawn here.
"use strict";

window.BotrelayPages = {
  make(ui) {
    const { h, $, $$, api, field, toast, newView, every, lookups, can, stateBadge, stateLabel, nodes } = ui;
    const SVG = "http://www.w3.org/2000/svg";

    // ---- vendor settings form ---------------------------------------------

    // inputID is the id of a setting's input; the function vendor's code
    // keeps the id it always had.
    const inputID = (vendor, key) => (vendor.id === "function" && key === "code" ? "function-code" : "vf-" + key);

    function showValue(f, v) {
      if (v == null) return "";
      if (f.type === "json") return JSON.stringify(v, null, 2);
      if (f.type === "list") return Array.isArray(v) ? v.join("\n") : String(v);
      return typeof v === "string" ? v : JSON.stringify(v);
    }

    function fieldInput(vendor, f, value, secretSet) {
      const id = inputID(vendor, f.key);
      const attrs = { id, "data-key": f.key, "data-type": f.type, placeholder: f.default || null };
      if (f.secret) {
        attrs.autocomplete = "new-password";
        attrs.placeholder = secretSet ? "set — leave empty to keep it" : "not set";
      }
      switch (f.type) {
        case "boolean":
          return h("input", { type: "checkbox", id, "data-key": f.key, "data-type": f.type, checked: value === true });
        case "select":
          return h("select", attrs, h("option", { value: "" }, f.default ? `(default: ${f.default})` : "—"),
            f.options.map((o) => h("option", { value: o, selected: o === value }, o)));
        case "number":
          return h("input", { ...attrs, type: "number", step: "any", value: showValue(f, value) });
        case "text": case "code": case "json": case "list":
          return h("textarea", { ...attrs, rows: f.type === "code" ? 14 : 4, spellcheck: "false",
            class: f.type === "text" ? null : "code", value: f.secret ? "" : showValue(f, value) });
      }
      return h("input", { ...attrs, type: f.secret ? "password" : "text", value: f.secret ? "" : showValue(f, value) });
    }

    // readField returns [present, value] for one setting, or throws.
    function readField(f, el) {
      if (f.type === "boolean") return [el.checked, true];
      const s = el.value;
      if (s.trim() === "") return [false];
      switch (f.type) {
        case "number": {
          const n = Number(s);
          if (!Number.isFinite(n)) throw new Error(`${f.label} must be a number.`);
          return [true, n];
        }
        case "list":
          return [true, s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean)];
        case "json":
          try { return [true, JSON.parse(s)]; } catch (e) { throw new Error(`${f.label} is not valid JSON: ${e.message}`); }
      }
      return [true, f.type === "code" || f.type === "text" ? s : s.trim()];
    }

    // vendorForm builds the settings form of vendor (an entry of
    // GET /api/v1/vendors) filled with values; opts.secretsSet (edit) names
    // the secrets stored: their fields stay empty, show "set" or "not set",
    // keep the stored value when left empty and offer Clear. read()
    // returns the settings object to send, or throws an Error that says
    // what is wrong; values() returns what is typed, for later.
    function vendorForm(vendor, values, opts) {
      const edit = !!(opts && opts.secretsSet);
      const isSet = (k) => edit && opts.secretsSet.includes(k);
      const fields = vendor.fields || [];
      const box = h("div", { id: "vendor-form", "data-vendor": vendor.id });
      const raw = h("textarea", { id: "vendor-settings", rows: 8, spellcheck: "false", class: "code" });
      const rawBox = field("Vendor settings (JSON)", raw, "See docs/vendors/ for every setting." +
        (edit && vendor.secrets.length ? " Leave a credential out to keep it; null removes it." : ""));
      const secretsNote = vendor.secrets.length ?
        h("p", { class: "muted", id: "vendor-secrets-note" }, `Credentials (${vendor.secrets.join(", ")}) are stored encrypted and never shown again.`) : null;
      const toggle = h("input", { type: "checkbox", id: "vendor-raw" });
      const inputs = new Map();
      const clears = new Map();
      const grid = h("div", { class: "vendor-fields" });
      for (const f of fields) {
        const el = fieldInput(vendor, f, (values || {})[f.key], isSet(f.key));
        inputs.set(f.key, el);
        const label = f.label + (f.required ? " *" : "");
        const extra = [];
        if (f.secret) {
          extra.push(h("span", { class: "secret-state", "data-testid": "secret-state", "data-key": f.key, "data-set": String(isSet(f.key)) },
            isSet(f.key) ? "set" : "not set"));
          if (isSet(f.key)) {
            const c = h("input", { type: "checkbox", id: "vf-" + f.key + "-clear" });
            clears.set(f.key, c);
            c.addEventListener("change", () => { el.disabled = c.checked; });
            extra.push(h("label", { class: "choice small" }, c, " Clear"));
          }
        }
        const wrap = f.type === "boolean" ?
          h("label", { class: "choice field-wide", "data-field": f.key }, el, " ", label, f.help ? h("span", { class: "hint" }, " — " + f.help) : null) :
          h("label", { class: "field" + (["code", "text", "json", "list"].includes(f.type) ? " field-wide" : ""), "data-field": f.key },
            h("span", { class: "label" }, label, " ", extra), el, f.help ? h("span", { class: "hint" }, f.help) : null);
        grid.append(wrap);
      }
      function readFields() {
        const out = {};
        for (const f of fields) {
          const el = inputs.get(f.key);
          if (clears.get(f.key) && clears.get(f.key).checked) {
            out[f.key] = null;
            continue;
          }
          const [present, v] = readField(f, el);
          if (present) out[f.key] = v;
          else if (f.required && !isSet(f.key)) throw new Error(`${f.label} is required.`);
        }
        return out;
      }
      function readRaw() {
        let v;
        try { v = JSON.parse(raw.value || "{}"); } catch (e) { throw new Error("Vendor settings are not valid JSON: " + e.message); }
        if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("Vendor settings must be a JSON object.");
        return v;
      }
      function fill(v) {
        for (const f of fields) {
          const el = inputs.get(f.key);
          if (f.secret && (v[f.key] === undefined || v[f.key] === null)) {
            el.value = "";
            if (clears.get(f.key)) { clears.get(f.key).checked = v[f.key] === null; el.disabled = v[f.key] === null; }
            continue;
          }
          if (f.type === "boolean") el.checked = v[f.key] === true;
          else el.value = showValue(f, v[f.key]);
        }
      }
      const useRaw = () => !fields.length || toggle.checked;
      const sync = () => {
        grid.hidden = useRaw();
        rawBox.hidden = !useRaw();
      };
      toggle.addEventListener("change", () => {
        $("#vendor-form-error", box).textContent = "";
        try {
          if (toggle.checked) raw.value = JSON.stringify(readFieldsLoose(), null, 2);
          else fill(readRaw());
        } catch (e) {
          toggle.checked = !toggle.checked;
          $("#vendor-form-error", box).textContent = e.message;
        }
        sync();
      });
      // readFieldsLoose is readFields without the required check.
      function readFieldsLoose() {
        const out = {};
        for (const f of fields) {
          if (clears.get(f.key) && clears.get(f.key).checked) { out[f.key] = null; continue; }
          const [present, v] = readField(f, inputs.get(f.key));
          if (present) out[f.key] = v;
        }
        return out;
      }
      if (!fields.length) raw.value = JSON.stringify(values || {}, null, 2);
      box.append(...nodes(secretsNote,
        fields.length ? h("label", { class: "choice raw-toggle" }, toggle, " Advanced: edit the settings as raw JSON") : null,
        grid, rawBox, h("p", { class: "error", id: "vendor-form-error", role: "alert" })));
      sync();
      return {
        el: box,
        read: () => (useRaw() ? readRaw() : readFields()),
        values: () => { try { return useRaw() ? readRaw() : readFieldsLoose(); } catch (e) { return values || {}; } },
      };
    }

    // vendorOnly returns the vendor's settings without the secret keys.
    function vendorValues(bot) {
      try { return JSON.parse(JSON.stringify(bot.settings.vendor || {})); } catch (e) { return {}; }
    }

    // ---- bot edit page -------------------------------------------------------

    const running = (bot, state) => bot.started || state !== "OFFLINE";

    async function editView(id) {
      const gen = newView("bots");
      const path = "/bots/" + encodeURIComponent(id);
      let bot, st;
      try {
        [bot, st] = await Promise.all([api("GET", path), api("GET", path + "/status")]);
      } catch (e) {
        ui.view().append(h("p", { class: "error" }, e.message));
        return;
      }
      const L = await lookups();
      if (gen !== S().gen) return;
      const state = stateBadge(st.state, "bot-state");
      const refused = h("section", { class: "panel notice-warn", id: "edit-refused", hidden: true, role: "status" });
      const formBox = h("div", { id: "edit-form-box" });
      ui.view().append(
        h("p", {}, h("a", { href: "#/bots/" + encodeURIComponent(id) }, "← " + bot.name)),
        h("div", { class: "head" }, h("h1", {}, "Edit ", h("span", { id: "edit-title" }, bot.name)), state),
        refused, formBox);
      if (!can("bot:edit")) {
        formBox.append(h("p", { class: "error" }, "Your profile cannot edit bots."));
        return;
      }
      let shown = null; // "form" or "refused"
      const render = (b, s) => {
        state.dataset.state = s;
        state.textContent = stateLabel(s);
        const want = running(b, s) ? "refused" : "form";
        if (want === shown) return;
        shown = want;
        if (want === "refused") {
          const stop = h("button", { type: "button", class: "danger", id: "edit-stop", hidden: !can("bot:stop"), onclick: async () => {
            stop.disabled = true;
            try { await api("POST", path + "/stop"); } catch (e) { toast(e.message, "error"); } finally { stop.disabled = false; }
          } }, "Stop the bot");
          refused.replaceChildren(h("p", { "data-testid": "edit-refused-message" },
            `${b.name} is ${stateLabel(s)}. A bot can be edited only while it is Offline: stop it first, then edit it and start it again.`), stop);
          refused.hidden = false;
          formBox.hidden = true;
          return;
        }
        refused.hidden = true;
        formBox.hidden = false;
        formBox.replaceChildren(editForm(b, L, path));
      };
      render(bot, st.state);
      every(gen, async () => {
        const [b, s] = await Promise.all([api("GET", path), api("GET", path + "/status")]);
        if (gen === S().gen) render(b, s.state);
      });
    }

    function editForm(bot, L, path) {
      const vendor = L.vendors.find((v) => v.id === bot.vendor) || { id: bot.vendor, displayName: bot.vendor, secrets: [], fields: [] };
      const form = vendorForm(vendor, vendorValues(bot), { secretsSet: bot.secretsSet.filter((k) => vendor.secrets.includes(k)) });
      const e = bot.settings.errorHandling || {};
      const survey = bot.type === "SURVEY";
      const user = L.user(bot.userId);
      const skillOptions = (sel) => L.skills.map((s) => h("option", { value: s.name, selected: s.name === sel }, s.name));
      const err = h("p", { class: "error", id: "edit-error", role: "alert" });
      const save = h("button", { type: "submit", id: "edit-save" }, "Save");
      const el = h("form", { id: "edit-form", class: "panel", novalidate: true, onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        let body;
        try {
          body = editBody(bot, form);
        } catch (x) {
          err.textContent = x.message;
          return;
        }
        save.disabled = true;
        try {
          await api("PUT", path, body);
          toast(`${body.name} saved.`);
          location.hash = "#/bots/" + encodeURIComponent(bot.id);
        } catch (x) {
          err.textContent = x.message;
        } finally {
          save.disabled = false;
        }
      } },
      h("h2", {}, "Bot"),
      h("div", { class: "grid2" },
        field("Bot name", h("input", { type: "text", id: "edit-name", value: bot.name })),
        field("Bot user", h("span", { id: "edit-user" }, user ? user.loginName : "#" + bot.userId),
          "Its skills: " + (user ? user.skillIds.map(L.skillName).join(", ") || "none" : "—") + " (change them on the Users page).")),
      survey ? [
        h("h2", {}, "Survey"),
        field("Skills", h("div", { class: "checks", id: "edit-survey-skills" }, L.skills.map((s) =>
          h("label", { class: "choice" }, h("input", { type: "checkbox", value: s.name, checked: (bot.settings.survey.skills || []).includes(s.name) }), " ", s.name))),
        "The conversation skills whose surveys this bot runs."),
        field("Error message", h("input", { type: "text", id: "edit-survey-error", value: bot.settings.survey.errorMessage || "" })),
      ] : [
        h("h2", {}, "Error handling"),
        h("div", { class: "grid2" },
          field("Transfer to skill", h("select", { id: "edit-escalation-skill" }, skillOptions(e.escalationSkill)),
            "Where the bot escalates a conversation when anything fails."),
          field("Transfer message to customer", h("input", { type: "text", id: "edit-msg-consumer", value: e.messageToConsumer || "" })),
          field("Transfer message to agent", h("input", { type: "text", id: "edit-msg-agent", value: e.messageToAgent || "" })),
          field("Transfer failure message", h("input", { type: "text", id: "edit-msg-failure", value: e.transferFailureMessage || "" }))),
        h("label", { class: "choice" }, h("input", { type: "checkbox", id: "edit-welcome", checked: !!(bot.settings.messaging || {}).welcomeMessage }),
          " Welcome message: greet as soon as the bot gets the conversation"),
      ],
      h("h2", {}, "A.I. vendor: " + vendor.displayName),
      vendor.secrets.length ? h("p", { class: "muted" }, "Secrets are write-only: they are never shown. Leave a secret empty to keep it, or tick Clear to remove it. Changing where the calls go (" +
        vendor.endpoint.join(", ") + ") needs the secrets typed again.") : null,
      form.el,
      err,
      h("div", { class: "wizard-buttons" }, h("a", { class: "button secondary", href: "#/bots/" + encodeURIComponent(bot.id), id: "edit-cancel" }, "Cancel"),
        h("span", { class: "spacer" }), save));
      return el;
    }

    // editBody is the PUT body: the bot's settings as stored, with what the
    // form edits replaced.
    function editBody(bot, form) {
      const name = $("#edit-name").value.trim();
      if (!name) throw new Error("Enter the bot's name.");
      const settings = JSON.parse(JSON.stringify(bot.settings));
      settings.vendor = form.read();
      if (bot.type === "SURVEY") {
        settings.survey = { ...settings.survey, skills: $$("#edit-survey-skills input:checked").map((i) => i.value),
          errorMessage: $("#edit-survey-error").value };
        if (!settings.survey.skills.length) throw new Error("Choose at least one skill.");
      } else {
        settings.errorHandling = { ...settings.errorHandling, escalationSkill: $("#edit-escalation-skill").value,
          messageToConsumer: $("#edit-msg-consumer").value, messageToAgent: $("#edit-msg-agent").value,
          transferFailureMessage: $("#edit-msg-failure").value };
        settings.messaging = { ...settings.messaging, welcomeMessage: $("#edit-welcome").checked };
      }
      return { name, userId: bot.userId, settings };
    }

    // ---- figures and charts ------------------------------------------------------

    const RANGES = [
      { id: "10m", label: "Last 10 minutes", ms: 10 * 60e3, step: "1m" },
      { id: "1h", label: "Last hour", ms: 3600e3, step: "1m" },
      { id: "24h", label: "Last 24 hours", ms: 24 * 3600e3, step: "15m" },
      { id: "7d", label: "Last 7 days", ms: 7 * 24 * 3600e3, step: "1h" },
      { id: "30d", label: "Last 30 days", ms: 30 * 24 * 3600e3, step: "6h" },
    ];
    const CONV_SERIES = [
      { key: "handled", label: "Handled", color: "#2456c7" },
      { key: "closed", label: "Closed", color: "#1a7f37" },
      { key: "transferred", label: "Transferred", color: "#9a6700" },
      { key: "escalated", label: "Escalated", color: "#b42318" },
    ];
    const pct = (v) => (v == null ? "—" : (Math.round(v * 1000) / 10) + " %");
    const ms = (v) => (v == null ? "—" : v + " ms");

    function svg(tag, attrs, ...kids) {
      const e = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs || {})) if (v != null) e.setAttribute(k, String(v));
      for (const c of kids) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
      return e;
    }

    // lineChart draws series over points in an SVG: one polyline per series
    // and one circle per point that has a value, with data-series, data-at
    // and data-value so the chart can be read back.
    function lineChart(id, points, series, o) {
      const W = 720, H = 200, L = 48, R = 10, T = 10, B = 26;
      const vals = series.flatMap((s) => points.map((p) => s.get(p)).filter((v) => v != null));
      // Counts get whole-number grid lines: the top is a multiple of 4.
      const top = Math.max(1, ...vals);
      const max = o.max || (o.counts ? Math.ceil(top / 4) * 4 : top);
      const x = (i) => L + (points.length < 2 ? 0 : (i * (W - L - R)) / (points.length - 1));
      const y = (v) => T + (H - T - B) * (1 - v / max);
      const g = svg("svg", { id, class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": o.title, "data-points": points.length });
      for (let k = 0; k <= 4; k++) {
        const v = (max * k) / 4;
        g.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
          svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, o.fmt(v)));
      }
      const tick = Math.max(1, Math.ceil(points.length / 6));
      points.forEach((p, i) => {
        // The last label ends at the right edge so that it is not cut off.
        const anchor = i > 0 && x(i) > W - R - 40 ? "end" : "middle";
        if (i % tick === 0) g.append(svg("text", { x: x(i), y: H - 8, "text-anchor": anchor, class: "axis" }, o.when(p.at)));
      });
      for (const s of series) {
        const pts = [];
        points.forEach((p, i) => {
          const v = s.get(p);
          if (v != null) pts.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
        });
        g.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "data-series": s.key }));
        points.forEach((p, i) => {
          const v = s.get(p);
          if (v == null) return;
          g.append(svg("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: s.color, "data-series": s.key, "data-at": p.at, "data-value": v },
            svg("title", {}, `${s.label} ${o.when(p.at)}: ${o.fmt(v)}`)));
        });
      }
      return g;
    }

    function legend(series) {
      return h("div", { class: "legend" }, series.map((s) => h("span", { class: "key", "data-color": s.color },
        h("span", { class: "swatch swatch-" + s.key }), s.label)));
    }

    async function statsView(id) {
      const gen = newView("bots");
      const path = "/bots/" + encodeURIComponent(id);
      let bot;
      try {
        bot = await api("GET", path);
      } catch (e) {
        ui.view().append(h("p", { class: "error" }, e.message));
        return;
      }
      if (gen !== S().gen) return;
      const range = h("select", { id: "stats-range" }, RANGES.map((r) => h("option", { value: r.id, selected: r.id === "1h" }, r.label)));
      const tiles = h("div", { class: "tiles", id: "stats-totals" });
      const charts = h("div", { id: "stats-charts" });
      const updated = h("span", { class: "muted", id: "stats-updated" });
      ui.view().append(
        h("p", {}, h("a", { href: "#/bots/" + encodeURIComponent(id) }, "← " + bot.name)),
        h("div", { class: "head" }, h("h1", {}, "Figures: ", bot.name), h("span", { class: "spacer" }), field("Range", range)),
        h("p", { class: "muted" }, "Kept per minute for 24 hours and per hour for 30 days; the server writes them every 5 seconds. ", updated),
        tiles, charts);
      const load = async () => {
        const r = RANGES.find((x) => x.id === range.value);
        const to = new Date();
        const from = new Date(to.getTime() - r.ms);
        const s = await api("GET", `${path}/stats?from=${encodeURIComponent(from.toISOString().replace(/\.\d+Z$/, "Z"))}` +
          `&to=${encodeURIComponent(to.toISOString().replace(/\.\d+Z$/, "Z"))}&step=${r.step}`);
        if (gen !== S().gen) return;
        renderStats(s, tiles, charts, r);
        updated.textContent = "Updated " + to.toLocaleTimeString() + ".";
      };
      range.addEventListener("change", () => load().catch((e) => toast(e.message, "error")));
      every(gen, load);
    }

    function renderStats(s, tiles, charts, r) {
      const t = s.totals;
      const tile = (key, label, value) => h("div", { class: "tile", "data-testid": "total-" + key }, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
      tiles.replaceChildren(
        tile("handled", "Conversations handled", String(t.handled)),
        tile("closed", "Closed", String(t.closed)),
        tile("transferred", "Transferred", String(t.transferred)),
        tile("escalated", "Escalated", String(t.escalated)),
        tile("containment", "Containment rate", pct(t.containmentRate)),
        tile("p50", "Vendor latency p50", ms(t.latencyP50Ms)),
        tile("p95", "Vendor latency p95", ms(t.latencyP95Ms)),
        tile("uptime", "Uptime", pct(t.uptime)));
      const long = r.ms > 24 * 3600e3;
      const when = (at) => {
        const d = new Date(at);
        return long ? d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString([], { hour: "2-digit" }) :
          d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      };
      const num = (v) => String(Math.round(v * 10) / 10);
      const codes = Object.entries(t.errors).sort((a, b) => b[1] - a[1]);
      const section = (title, chart, ...extra) => h("section", { class: "panel chart-panel" }, h("h2", {}, title), extra, chart);
      charts.replaceChildren(
        section("Conversations", lineChart("chart-conversations", s.points, CONV_SERIES.map((c) => ({ ...c, get: (p) => p[c.key] })),
          { title: "Conversations per " + s.step, fmt: num, when, counts: true }), legend(CONV_SERIES)),
        section("Containment rate", lineChart("chart-containment", s.points, [{ key: "containment", label: "Containment", color: "#1a7f37", get: (p) => p.containmentRate }],
          { title: "Containment rate", max: 1, fmt: pct, when }), h("p", { class: "muted" }, "Conversations the bot closed without a transfer or an escalation, of those it handled.")),
        section("Vendor latency", lineChart("chart-latency", s.points, [
          { key: "p50", label: "p50", color: "#2456c7", get: (p) => p.latencyP50Ms },
          { key: "p95", label: "p95", color: "#b42318", get: (p) => p.latencyP95Ms }], { title: "Vendor latency", fmt: (v) => num(v) + " ms", when }),
        legend([{ key: "p50", label: "p50" }, { key: "p95", label: "p95" }])),
        section("Uptime", lineChart("chart-uptime", s.points, [{ key: "uptime", label: "Uptime", color: "#1a7f37", get: (p) => p.uptime }],
          { title: "Uptime", max: 1, fmt: pct, when }), h("p", { class: "muted" }, "Time Online of the time the bot was started.")),
        section("Errors by code", lineChart("chart-errors", s.points, [{ key: "errors", label: "Errors", color: "#b42318",
          get: (p) => Object.values(p.errors).reduce((a, b) => a + b, 0) }], { title: "Errors", fmt: num, when, counts: true }),
        h("table", { class: "table", id: "stats-errors", hidden: !codes.length }, h("thead", {}, h("tr", {}, h("th", {}, "Code"), h("th", {}, "Count"))),
          h("tbody", {}, codes.map(([c, n]) => h("tr", { "data-code": c }, h("td", {}, c), h("td", { class: "num" }, String(n)))))),
        codes.length ? null : h("p", { class: "muted", id: "stats-errors-empty" }, "No errors in this range.")));
    }

    const S = ui.state;
    return { vendorForm, editView, statsView };
  },
};
