// botrelay dashboard: the Webhooks page (#/webhooks) and a subscription's
// delivery log (#/webhooks/{id}). app.js calls BotrelayWebhooks.view with
// its kit of helpers; everything goes through /api/v1/webhooks and reaches
// the DOM as text.
"use strict";

window.BotrelayWebhooks = (() => {
  const KINDS = ["conversation.opened", "conversation.assigned", "conversation.transferred", "conversation.escalated",
    "conversation.closed", "survey.completed", "bot.state_changed"];
  const STATES = { PENDING: "Pending", DELIVERED: "Delivered", FAILED: "Failed" };

  // secretNotice shows a secret the API returns only once.
  function secretNotice(K, title, secret) {
    const { h } = K;
    return [h("p", {}, h("b", {}, title), " Copy the signing secret now: it is shown once and cannot be shown again."),
      h("p", {}, h("code", { "data-testid": "webhook-secret" }, secret))];
  }

  async function listView(K) {
    const { h, $, api, newView, table, fill, toast, field } = K;
    const gen = newView("webhooks");
    const hooks = await api("GET", "/webhooks");
    if (gen !== K.S.gen) return;
    const notice = h("div", { id: "webhook-created", class: "notice", role: "status", hidden: true });
    const show = (title, secret) => { notice.hidden = false; notice.replaceChildren(...secretNotice(K, title, secret)); };
    K.view().append(h("div", { class: "head" }, h("h1", {}, "Webhooks")),
      h("p", { class: "muted" }, "Signed HTTP POSTs of conversation and bot events; see docs/webhooks.md for the payloads and how to verify the signature."),
      notice, table("webhooks-table", ["ID", "URL", "Events", "Enabled", "Previous secret until", ""]));
    const act = (label, cls, fn) => h("button", { type: "button", class: "small " + cls, onclick: async () => {
      try { await fn(); } catch (e) { toast(e.message, "error"); }
    } }, label);
    fill("#webhooks-table", hooks.map((w) => [String(w.id), h("a", { href: "#/webhooks/" + w.id }, w.url),
      w.events.length ? w.events.join(", ") : "All events", w.enabled ? "Yes" : "No",
      w.previousSecretExpiresAt ? K.fmtTime(w.previousSecretExpiresAt) : "—",
      h("span", { class: "actions" },
        h("a", { class: "button small secondary", href: "#/webhooks/" + w.id, "data-testid": "webhook-deliveries" }, "Deliveries"),
        act(w.enabled ? "Disable" : "Enable", "secondary", async () => {
          await api("PUT", "/webhooks/" + w.id, { url: w.url, description: w.description, events: w.events, enabled: !w.enabled });
          listView(K);
        }),
        act("Rotate secret", "secondary", async () => {
          if (!confirm("Rotate the secret? The old one keeps signing deliveries for 24 hours.")) return;
          const out = await api("POST", "/webhooks/" + w.id + "/rotate-secret", {});
          await listView(K);
          show(`Rotated the secret of webhook ${out.id}.`, out.secret);
        }),
        act("Delete", "danger", async () => {
          if (!confirm(`Delete the webhook to ${w.url} and its delivery log?`)) return;
          await api("DELETE", "/webhooks/" + w.id);
          listView(K);
        }))]));
    K.$$("#webhooks-table tbody tr").forEach((tr, i) => { tr.dataset.testid = "webhook-row"; tr.dataset.webhookId = hooks[i].id; });
    const form = h("form", { class: "panel", id: "webhook-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const out = await api("POST", "/webhooks", { url: $("#webhook-url").value.trim(), description: $("#webhook-description").value.trim(),
          events: K.$$("#webhook-events input:checked").map((x) => x.value) });
        await listView(K);
        $("#webhook-created").hidden = false;
        $("#webhook-created").replaceChildren(...secretNotice(K, `Created webhook ${out.id}.`, out.secret));
      } catch (err) { $("#webhook-error").textContent = err.message; }
    } },
    h("h2", {}, "Add webhook"),
    h("div", { class: "grid2" },
      field("URL", h("input", { type: "url", id: "webhook-url", required: true, placeholder: "https://crm.example.com/botrelay" })),
      field("Description", h("input", { type: "text", id: "webhook-description" }))),
    field("Events", h("div", { class: "checks", id: "webhook-events" }, KINDS.map((k) =>
      h("label", { class: "choice" }, h("input", { type: "checkbox", value: k }), " ", k))), "None checked: all events."),
    h("p", { class: "error", id: "webhook-error", role: "alert" }),
    h("button", { type: "submit", id: "webhook-submit" }, "Add webhook"));
    K.view().append(form);
  }

  async function deliveriesView(K, id) {
    const { h, api, newView, table, fill, every } = K;
    const gen = newView("webhooks");
    const w = await api("GET", "/webhooks/" + encodeURIComponent(id));
    if (gen !== K.S.gen) return;
    const filter = h("select", { id: "delivery-state", "aria-label": "State" }, h("option", { value: "" }, "All states"),
      Object.entries(STATES).map(([v, n]) => h("option", { value: v }, n)));
    K.view().append(h("div", { class: "head" }, h("a", { href: "#/webhooks" }, "← Webhooks"), h("h1", {}, "Deliveries"), filter),
      h("p", { class: "muted", id: "delivery-target" }, w.url),
      table("deliveries-table", ["Created", "Type", "Event ID", "State", "Attempts", "Last status", "Last error", "Next attempt / delivered"]),
      h("p", { class: "muted", id: "deliveries-empty", hidden: true }, "No deliveries yet."));
    const load = async () => {
      const q = filter.value ? "?state=" + filter.value : "";
      const ds = await api("GET", "/webhooks/" + encodeURIComponent(id) + "/deliveries" + q);
      if (gen !== K.S.gen) return;
      fill("#deliveries-table", ds.map((d) => [K.fmtTime(d.createdAt), d.type, h("code", {}, d.eventId),
        h("span", { class: "state", "data-state": d.state, "data-testid": "delivery-state" }, STATES[d.state] || d.state),
        String(d.attempts), d.lastStatus ? String(d.lastStatus) : "—", d.lastError || "",
        d.state === "DELIVERED" ? K.fmtTime(d.deliveredAt) : d.state === "PENDING" ? K.fmtTime(d.nextAttemptAt) : "—"]));
      K.$$("#deliveries-table tbody tr").forEach((tr, i) => {
        tr.dataset.testid = "delivery-row";
        tr.dataset.state = ds[i].state;
        tr.dataset.type = ds[i].type;
      });
      K.$("#deliveries-empty").hidden = ds.length > 0;
    };
    filter.addEventListener("change", () => load().catch((e) => K.toast(e.message, "error")));
    every(gen, load);
  }

  return {
    // view renders #/webhooks (parts[1] empty) or a subscription's log.
    view(K, parts) {
      return parts[1] ? deliveriesView(K, parts[1]) : listView(K);
    },
  };
})();
