// Shared code of the consumer page and the agent console: a small client for
// the hub's websocket frame protocol, DOM helpers and the renderer for
// LivePerson-style structured content and quick replies.
//
// Everything that comes from the network is inserted as text, never as HTML.
"use strict";

(function (global) {
  /** Creates an element with attributes (string values; "text" sets textContent) and children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "class") node.className = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** safeURL returns u when it is an http(s) or same-origin relative URL, else "". */
  function safeURL(u) {
    if (typeof u !== "string" || u === "") return "";
    try {
      const parsed = new URL(u, location.href);
      if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.href;
    } catch (e) { /* invalid */ }
    return "";
  }

  function formatTime(ms) {
    if (!ms) return "";
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  /**
   * UMS is a websocket client for the frame protocol:
   * requests {kind:"req",id,type,body}, responses {kind:"resp",reqId,code,body},
   * notifications {kind:"notification",type,body}. It reconnects with backoff
   * unless closed on purpose or told to stop by shouldReconnect().
   */
  class UMS {
    constructor(urlFn) {
      this.urlFn = urlFn; // returns the websocket URL (may change, e.g. a refreshed token)
      this.nextId = 1;
      this.pending = new Map();
      this.handlers = new Map();
      this.ws = null;
      this.closedOnPurpose = false;
      this.backoff = 500;
      this.onopen = () => {};
      this.onstate = () => {};
      this.onclose = () => {};
    }

    /** on registers fn for notifications of the given type ("*" for all). */
    on(type, fn) {
      if (!this.handlers.has(type)) this.handlers.set(type, []);
      this.handlers.get(type).push(fn);
    }

    connect() {
      this.closedOnPurpose = false;
      this.onstate("connecting");
      let url;
      try { url = this.urlFn(); } catch (e) { this.onstate("closed"); return; }
      const ws = new WebSocket(url);
      this.ws = ws;
      ws.onopen = () => {
        this.backoff = 500;
        this.onstate("connected");
        this.onopen();
      };
      ws.onmessage = (ev) => this.dispatch(ev.data);
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = null;
        for (const [, p] of this.pending) p.reject(new Error("connection closed"));
        this.pending.clear();
        this.onstate("closed");
        const again = this.onclose(ev);
        if (!this.closedOnPurpose && again !== false) {
          const wait = this.backoff;
          this.backoff = Math.min(this.backoff * 2, 15000);
          setTimeout(() => this.connect(), wait);
        }
      };
    }

    close() {
      this.closedOnPurpose = true;
      if (this.ws) this.ws.close(1000, "bye");
    }

    get connected() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

    dispatch(data) {
      let frame;
      try { frame = JSON.parse(data); } catch (e) { return; }
      if (frame.kind === "resp") {
        const p = this.pending.get(String(frame.reqId));
        if (!p) return;
        this.pending.delete(String(frame.reqId));
        clearTimeout(p.timer);
        if (frame.code >= 400) {
          const err = (frame.body && frame.body.error) || {};
          const e = new Error(err.message || ("request failed with code " + frame.code));
          e.code = frame.code;
          p.reject(e);
        } else {
          p.resolve(frame.body);
        }
        return;
      }
      if (frame.kind === "notification") {
        for (const key of [frame.type, "*"]) {
          for (const fn of this.handlers.get(key) || []) {
            try { fn(frame.body, frame.type); } catch (e) { console.error(e); }
          }
        }
      }
    }

    /** request sends a request frame and resolves with the response body. */
    request(type, body, extra) {
      if (!this.connected) return Promise.reject(new Error("not connected"));
      const id = String(this.nextId++);
      const frame = Object.assign({ kind: "req", id, type, body: body || {} }, extra || {});
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new Error("request " + type + " timed out"));
        }, 15000);
        this.pending.set(id, { resolve, reject, timer });
        this.ws.send(JSON.stringify(frame));
      });
    }
  }

  /**
   * renderQuickReplies renders a quickReplies object as a row of chips.
   * onPick(text, reply) is called with the publishText of the picked reply;
   * the row removes itself after a pick.
   */
  function renderQuickReplies(qr, onPick) {
    const replies = (qr && Array.isArray(qr.replies)) ? qr.replies : [];
    if (replies.length === 0) return null;
    const row = el("div", { class: "quick-replies", role: "group", "aria-label": "Quick replies", "data-testid": "quick-replies" });
    for (const r of replies) {
      const text = publishTextOf(r) || r.title || "";
      const b = el("button", {
        type: "button", class: "chip", "data-testid": "quick-reply",
        title: r.tooltip || null, text: r.title || text,
      });
      if (onPick) {
        b.addEventListener("click", () => { row.remove(); onPick(text, r); });
      } else {
        b.disabled = true;
      }
      row.append(b);
    }
    return row;
  }

  function actionsOf(item) {
    return (item && item.click && Array.isArray(item.click.actions)) ? item.click.actions : [];
  }

  function publishTextOf(item) {
    const a = actionsOf(item).find((x) => x && x.type === "publishText");
    return a ? (a.text || "") : "";
  }

  /**
   * renderStructured renders LivePerson structured content (layouts vertical,
   * horizontal and carousel; elements text, image, button, link, map) into an
   * element. onPublish(text) handles publishText button actions.
   */
  function renderStructured(content, onPublish, depth) {
    depth = depth || 0;
    if (!content || typeof content !== "object" || depth > 8) return el("span", { text: "[unsupported content]" });
    const type = content.type;
    if (type === "vertical" || type === "horizontal" || type === "carousel") {
      const box = el("div", { class: "sc sc-" + type, role: type === "carousel" ? "list" : null });
      for (const child of content.elements || []) {
        const node = renderStructured(child, onPublish, depth + 1);
        if (type === "carousel") node.setAttribute("role", "listitem");
        box.append(node);
      }
      return box;
    }
    switch (type) {
      case "text": {
        const style = content.style || {};
        const cls = ["sc-text"];
        if (style.bold) cls.push("sc-text-title");
        if (style.size === "small") cls.push("sc-text-subtitle");
        return el("div", { class: cls.join(" "), title: content.tooltip || null, text: content.text || "" });
      }
      case "image": {
        const src = safeURL(content.url);
        const fig = el("figure", { class: "sc-image" });
        if (src) fig.append(el("img", { src, alt: content.caption || content.tooltip || "image", loading: "lazy" }));
        if (content.caption) fig.append(el("figcaption", { text: content.caption }));
        return wrapLink(fig, content);
      }
      case "button": {
        const b = el("button", { type: "button", class: "sc-button secondary", title: content.tooltip || null, text: content.title || "" });
        b.addEventListener("click", () => runActions(content, onPublish));
        return b;
      }
      case "link": {
        const href = safeURL(content.uri || content.url);
        return el("a", { class: "sc-link", href: href || null, target: "_blank", rel: "noopener noreferrer", text: content.title || content.name || content.uri || "link" });
      }
      case "map": {
        const href = "https://www.openstreetmap.org/?mlat=" + encodeURIComponent(content.la) + "&mlon=" + encodeURIComponent(content.lo);
        return el("a", { class: "sc-link", href, target: "_blank", rel: "noopener noreferrer", text: "Map: " + (content.tooltip || (content.la + ", " + content.lo)) });
      }
      default:
        return el("span", { text: "[" + (type || "unknown") + "]" });
    }
  }

  function wrapLink(node, item) {
    const link = actionsOf(item).find((x) => x && x.type === "link");
    const href = link ? safeURL(link.uri) : "";
    if (!href) return node;
    return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, node);
  }

  function runActions(item, onPublish) {
    for (const a of actionsOf(item)) {
      if (!a) continue;
      if (a.type === "publishText" && onPublish) onPublish(a.text || "");
      else if (a.type === "link") {
        const href = safeURL(a.uri);
        if (href) window.open(href, "_blank", "noopener");
      } else if (a.type === "navigate") {
        window.open("https://www.openstreetmap.org/?mlat=" + encodeURIComponent(a.la) + "&mlon=" + encodeURIComponent(a.lo), "_blank", "noopener");
      }
    }
  }

  /** isImageFile reports whether a hosted file type is an image a browser shows. */
  function isImageFile(fileType) {
    return /^(png|jpe?g|gif|webp|bmp)$/i.test(String(fileType || ""));
  }

  global.Botrelay = { el, safeURL, formatTime, UMS, renderQuickReplies, renderStructured, isImageFile };
})(window);
