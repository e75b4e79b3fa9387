// Agent console helpers: ring alerts (a beep, a browser notification while
// the tab is hidden, the waiting rings counted in the title) and the canned
// replies picker of the composer. agent.js uses them through
// window.BotrelayConsole.
"use strict";

(function () {
  const { el } = window.Botrelay;

  /** Alerts tells the agent about rings. */
  class Alerts {
    constructor(baseTitle) {
      this.baseTitle = baseTitle;
      this.audio = null;
    }

    // unlock prepares sound and asks for notification permission. Call it
    // from a user gesture (a click or a submit): browsers allow both only
    // then.
    unlock() {
      this.wake();
      if ("Notification" in window && Notification.permission === "default") {
        try {
          const p = Notification.requestPermission();
          if (p && p.then) p.then(() => this.onpermission && this.onpermission()).catch(() => {});
        } catch (e) { /* old browsers: callback form only */ }
      }
    }

    // wake prepares sound only (from a user gesture).
    wake() {
      try {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (Ctx && !this.audio) this.audio = new Ctx();
        if (this.audio && this.audio.state === "suspended") this.audio.resume().catch(() => {});
      } catch (e) { this.audio = null; }
    }

    // needsPermission: notifications exist and the agent has not decided.
    needsPermission() {
      return "Notification" in window && Notification.permission === "default";
    }

    // beep plays two short tones generated with WebAudio (no file).
    beep() {
      const ctx = this.audio;
      if (!ctx || ctx.state !== "running") return;
      const t0 = ctx.currentTime;
      [880, 660].forEach((freq, i) => {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        const start = t0 + i * 0.18;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(start);
        osc.stop(start + 0.17);
      });
    }

    // ring beeps and, while the tab is hidden, shows a notification. With
    // quiet set it only replaces the ring's notification (same tag) without
    // a sound: the ring's details changed.
    ring(title, body, tag, onclick, quiet) {
      if (!quiet) this.beep();
      if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
      try {
        const n = new Notification(title, { body, tag, renotify: !quiet, silent: !!quiet });
        n.onclick = () => { window.focus(); if (onclick) onclick(); n.close(); };
      } catch (e) { /* notifications may be unavailable (e.g. Android needs a service worker) */ }
    }

    // count shows the number of waiting rings in the title: "(2) Agent console".
    count(n) {
      document.title = (n > 0 ? "(" + n + ") " : "") + this.baseTitle;
    }
  }

  /** waited formats the time since ts (ms) as "12 s", "3 min" or "1 h 5 min". */
  function waited(ts, now) {
    const s = Math.max(0, Math.floor(((now || Date.now()) - ts) / 1000));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  /**
   * CannedPicker lists canned replies under the composer while its text
   * starts with "/", filtered by the rest (title or text, any case). Arrow
   * keys move, Enter or Tab or a click inserts the reply's text, Escape
   * closes.
   */
  class CannedPicker {
    constructor(input, list) {
      this.input = input;
      this.list = list;
      this.replies = [];
      this.shown = [];
      this.active = 0;
      input.addEventListener("input", () => this.update());
      // Close a moment after the box loses focus (a click on an item comes
      // first), unless it has the focus again by then.
      input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== this.input) this.close(); }, 150));
    }

    set(replies) {
      this.replies = Array.isArray(replies) ? replies : [];
      this.update();
    }

    isOpen() { return !this.list.hidden; }

    update() {
      const v = this.input.value;
      if (!v.startsWith("/") || v.includes("\n")) { this.close(); return; }
      const q = v.slice(1).trim().toLowerCase();
      this.shown = this.replies.filter((r) => !q || r.title.toLowerCase().includes(q) || r.text.toLowerCase().includes(q));
      this.active = 0;
      this.render();
    }

    render() {
      const items = this.shown.map((r, i) => {
        const li = el("li", { role: "option", class: "canned-item", "data-testid": "canned-item", "data-id": r.id, "aria-selected": i === this.active ? "true" : "false" },
          el("span", { class: "canned-title", text: "/" + r.title }), el("span", { class: "canned-text", text: r.text }));
        li.addEventListener("mousedown", (e) => { e.preventDefault(); this.pick(i); });
        return li;
      });
      if (items.length === 0) {
        items.push(el("li", { class: "canned-empty", text: this.replies.length ? "No canned reply matches." : "No canned replies yet (an admin adds them in the dashboard)." }));
      }
      this.list.replaceChildren(...items);
      this.list.hidden = false;
    }

    close() {
      this.list.hidden = true;
      this.shown = [];
    }

    pick(i) {
      const r = this.shown[i];
      if (!r) return;
      this.input.value = r.text;
      this.close();
      this.input.focus();
      this.input.setSelectionRange(r.text.length, r.text.length);
      this.input.dispatchEvent(new Event("input"));
    }

    // keydown handles the picker's keys; it returns true when it used the key.
    keydown(e) {
      if (!this.isOpen()) return false;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (this.shown.length) {
          this.active = (this.active + (e.key === "ArrowDown" ? 1 : this.shown.length - 1)) % this.shown.length;
          this.render();
        }
        return true;
      }
      if ((e.key === "Enter" || e.key === "Tab") && this.shown.length) {
        this.pick(this.active);
        return true;
      }
      if (e.key === "Escape") {
        this.close();
        return true;
      }
      return false;
    }
  }

  window.BotrelayConsole = { Alerts, CannedPicker, waited };
})();
