/* Portal assistant – embeddable chat widget (plain JS, no build step, no dependency but the vendored
 * socket.io client, which it loads itself from its own folder when the page has no `window.io`).
 *
 * Embed:
 *   <script src="https://portal.example/chat/widget.js" defer
 *           data-backend-url="https://portal.example" data-rasa-url="https://assistant.example"
 *           data-lang="fr" data-color="#cc0000" data-token-storage-key="mps_chat_token"
 *           data-login-url="/login"></script>
 * or, before the script, window.PortalAssistantConfig = {backendUrl, rasaUrl, lang, color, tokenStorageKey,
 * loginUrl, getToken: function () { return "<portal access token>" | null; }} (its values win over the
 * attributes). Every setting is optional:
 *   backendUrl  default: the origin the script comes from (the portal backend: /users/me, /chat/config.json);
 *   rasaUrl     default: `rasa_url` of {backendUrl}/chat/config.json;
 *   lang        "fr" | "en"; default: the host page's <html lang> (followed when it changes), else the browser's;
 *   color       the theme colour, "#rgb" or "#rrggbb"; darkened where needed to keep a 4.5:1 text contrast;
 *   token       setToken() > getToken() > sessionStorage/localStorage[tokenStorageKey]; never a password.
 * API: window.PortalAssistant.setToken(token | null), .open(), .close(), .setLang("fr" | "en").
 *
 * Everything lives in an open shadow root (host page styles do not leak in), styled by widget.css (a <link>,
 * so a strict Content-Security-Policy without 'unsafe-inline' is enough). Messages are built as DOM nodes,
 * never innerHTML, so bot text cannot inject markup.
 *
 * Server contract (Rasa socket.io channel, bot/channels.py): connect with auth {token}; session_request /
 * session_confirm; history_request / history; user_uttered {message, session_id, message_id, customData {token, lang}}
 * acknowledged {ok, duplicate}; bot_uttered; turn_end; login_required; connect_error "login_required".
 * Nothing typed is lost or taken twice: a message keeps its id until the server acknowledges it; one still
 * unacknowledged when the connection drops is sent again, with the same id, after the reconnection, unless the
 * history already holds it; the server takes a copy once and the widget then shows the history again.
 */
(function () {
  "use strict";

  if (window.PortalAssistant && window.PortalAssistant.version) return; // the script was included twice

  var VERSION = "1.0.0";
  var MAX_CHARS = 1000;          // the server refuses longer messages
  var COUNTER_FROM = 900;        // the character counter shows from here
  var TYPING_TIMEOUT_MS = 30000; // safety net if turn_end never comes
  var TYPING_LINGER_MS = 1500;   // servers without turn_end: hide this long after the last bot message
  var HISTORY_WAIT_MS = 2500;    // messages typed before the history arrives wait at most this long
  var RETRY_MS = 10000;          // after a refusal "portal_unavailable"
  var DEFAULT_COLOR = "#cc0000";
  var PREFIX = "portal-assistant";

  var STRINGS = {
    fr: {
      launcher: "Discuter avec l'assistant", unreadOne: "1 nouveau message", unreadMany: "{n} nouveaux messages",
      title: "Assistant", subtitle: "Portail libre-service", close: "Fermer l'assistant",
      conversation: "Conversation avec l'assistant", typing: "L'assistant écrit…",
      inputLabel: "Votre message", placeholder: "Écrivez votre message…", send: "Envoyer",
      counter: "{n} / {max} caractères", replies: "Réponses proposées",
      loginRequired: "Veuillez vous connecter au portail pour discuter avec l'assistant.", login: "Se connecter",
      connecting: "Connexion à l'assistant…", reconnecting: "Connexion perdue, reconnexion…",
      unavailable: "L'assistant n'est pas joignable pour le moment. Veuillez réessayer plus tard.",
      welcome: "Bonjour{name} ! Je peux signaler une panne, suivre vos dossiers, saisir vos relevés de compteurs, commander des consommables et bien plus. Que puis-je faire pour vous ?",
      you: "Vous :", bot: "Assistant :", image: "Image", openLink: "Ouvrir le lien",
      article: "Article de la base de connaissances", openArticle: "Ouvrir l'article",
      newTab: " (s'ouvre dans un nouvel onglet)"
    },
    en: {
      launcher: "Chat with the assistant", unreadOne: "1 new message", unreadMany: "{n} new messages",
      title: "Assistant", subtitle: "Self-service portal", close: "Close the assistant",
      conversation: "Conversation with the assistant", typing: "The assistant is typing…",
      inputLabel: "Your message", placeholder: "Type your message…", send: "Send",
      counter: "{n} / {max} characters", replies: "Suggested replies",
      loginRequired: "Please log in to the portal to chat with the assistant.", login: "Log in",
      connecting: "Connecting to the assistant…", reconnecting: "Connection lost, reconnecting…",
      unavailable: "The assistant cannot be reached right now. Please try again later.",
      welcome: "Hello{name}! I can report a fault, follow your cases, record meter readings, order supplies and much more. How can I help you?",
      you: "You:", bot: "Assistant:", image: "Image", openLink: "Open the link",
      article: "Knowledge article", openArticle: "Open the article",
      newTab: " (opens in a new tab)"
    }
  };

  // ---------- configuration ----------
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1] || null;
  })();
  var scriptUrl = (script && script.src) || location.href;
  var BASE = new URL(".", scriptUrl).href; // widget.css and vendor/ sit next to the script
  var attrs = (script && script.dataset) || {};
  var js = window.PortalAssistantConfig || {};

  function pick(a, b) { return a != null && a !== "" ? a : b != null && b !== "" ? b : null; }
  function noSlash(url) { return url ? String(url).replace(/\/+$/, "") : url; }

  var config = {
    backendUrl: noSlash(pick(js.backendUrl, attrs.backendUrl) || new URL(scriptUrl).origin),
    rasaUrl: noSlash(pick(js.rasaUrl, attrs.rasaUrl)),
    socketPath: pick(js.socketPath, attrs.socketPath) || "/socket.io/",
    lang: pick(js.lang, attrs.lang),
    color: pick(js.color, attrs.color) || DEFAULT_COLOR,
    tokenStorageKey: pick(js.tokenStorageKey, attrs.tokenStorageKey),
    loginUrl: pick(js.loginUrl, attrs.loginUrl),
    getToken: typeof js.getToken === "function" ? js.getToken : null
  };

  // ---------- storage ----------
  function storage(kind) { try { return window[kind]; } catch (e) { return null; } } // blocked cookies throw
  function get(kind, key) { try { var s = storage(kind); return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function put(kind, key, value) {
    try { var s = storage(kind); if (!s) return; if (value == null) s.removeItem(key); else s.setItem(key, value); } catch (e) { /* full or private */ }
  }

  var STATE_KEY = PREFIX + ".state"; // sessionStorage: {open, unread}: survives navigation in this tab
  function loadState() {
    try { var s = JSON.parse(get("sessionStorage", STATE_KEY) || "{}"); return { open: !!s.open, unread: Math.max(0, s.unread | 0) }; }
    catch (e) { return { open: false, unread: 0 }; }
  }
  var ui = loadState();
  function saveState() { put("sessionStorage", STATE_KEY, JSON.stringify(ui)); }

  // The Rasa conversation id, one per portal user and backend (another user on this browser gets their own).
  function sessionKey() { return PREFIX + ".session." + config.backendUrl + ".u" + (user ? user.id : "unknown"); }
  function storedSessionId() { return get("localStorage", sessionKey()); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---------- token ----------
  var tokenFromApi; // undefined: setToken never called; null: logged out
  function currentToken() {
    if (tokenFromApi !== undefined) return tokenFromApi;
    if (config.getToken) { try { var t = config.getToken(); if (t) return String(t); } catch (e) { console.warn("PortalAssistant: getToken failed", e); } }
    if (config.tokenStorageKey) return get("sessionStorage", config.tokenStorageKey) || get("localStorage", config.tokenStorageKey);
    return null;
  }

  // ---------- i18n ----------
  var langOverride = null;
  function pageLang() {
    var l = (langOverride || config.lang || document.documentElement.getAttribute("lang") ||
             (navigator.languages && navigator.languages[0]) || navigator.language || "").toLowerCase();
    return /^fr\b/.test(l) ? "fr" : "en";
  }
  var lang = pageLang();
  function t(key, vars) {
    var s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ""; });
  }

  // ---------- theme (WCAG contrast kept whatever colour the host gives) ----------
  function parseHex(c) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(c || "").trim());
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  }
  function luminance(rgb) {
    var c = rgb.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrast(a, b) { var x = luminance(a), y = luminance(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  function darker(rgb) { return rgb.map(function (v) { return Math.floor(v * 0.92); }); }
  function hex(rgb) { return "#" + rgb.map(function (v) { return (v + 256).toString(16).slice(1); }).join(""); }
  var WHITE = [255, 255, 255], INK = [20, 20, 20];
  function theme(color) {
    var base = parseHex(color) || parseHex(DEFAULT_COLOR);
    var onAccent = contrast(base, WHITE) >= contrast(base, INK) ? WHITE : INK;
    var accent = base;
    while (contrast(accent, onAccent) < 4.5) accent = onAccent === WHITE ? darker(accent) : accent.map(function (v) { return Math.min(255, v + 12); });
    var accentText = base; // the colour used as text or border on white
    while (contrast(accentText, WHITE) < 4.5) accentText = darker(accentText);
    var soft = accentText.map(function (v) { return Math.round(v * 0.1 + 255 * 0.9); });
    return { "--pa-accent": hex(accent), "--pa-on-accent": hex(onAccent), "--pa-accent-text": hex(accentText),
             "--pa-accent-soft": hex(soft) };
  }

  // ---------- DOM helpers ----------
  function h(tag, props, children) {
    var n = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v == null || v === false) return;
      if (k === "text") n.textContent = v;
      else if (k === "className") n.className = v;
      else if (k === "hidden") n.hidden = true;
      else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return n;
  }
  function i18n(node, key, attr) { // remembers the key so setLang() can re-translate
    if (attr) { node.setAttribute("data-i18n-" + attr, key); node.setAttribute(attr, t(key)); }
    else { node.setAttribute("data-i18n", key); node.textContent = t(key); }
    return node;
  }
  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(pathD) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    var p = document.createElementNS(SVG_NS, "path"); p.setAttribute("d", pathD);
    svg.appendChild(p);
    return svg;
  }
  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z";
  var ICON_CLOSE = "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z";
  var ICON_PERSON = "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-3.6 0-8 1.8-8 5v2h16v-2c0-3.2-4.4-5-8-5z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z";

  // ---------- build the widget ----------
  var host = document.createElement("portal-assistant");
  var colors = theme(config.color);
  Object.keys(colors).forEach(function (k) { host.style.setProperty(k, colors[k]); });
  var root = host.attachShadow({ mode: "open" });

  var el = {};
  el.css = h("link", { rel: "stylesheet", href: BASE + "widget.css" });
  el.badge = h("span", { className: "badge", "data-testid": "widget-badge", "aria-hidden": "true", hidden: true });
  el.launcher = h("button", { type: "button", className: "launcher", "data-testid": "widget-launcher",
                              "aria-expanded": "false", "aria-controls": "pa-panel" },
                  [icon(ICON_CHAT), el.badge]);
  el.title = i18n(h("h2", { id: "pa-title", className: "title" }), "title");
  el.subtitle = i18n(h("p", { className: "subtitle" }), "subtitle");
  el.close = i18n(h("button", { type: "button", className: "close", "data-testid": "widget-close" }, [icon(ICON_CLOSE)]), "close", "aria-label");
  el.status = h("div", { className: "status", role: "status", "data-testid": "widget-status" });
  el.messages = i18n(h("ol", { className: "messages", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                               "data-testid": "widget-messages" }), "conversation", "aria-label");
  el.typingText = i18n(h("span", { className: "sr-only" }), "typing");
  el.typing = h("div", { className: "typing", "data-testid": "typing", hidden: true },
                [h("span", { className: "dots", "aria-hidden": "true" }, [h("span"), h("span"), h("span")]), el.typingText]);
  el.typingLive = h("div", { className: "sr-only", role: "status" }); // announces "typing" once per turn
  el.scroller = h("div", { className: "scroller" }, [el.messages, el.typing]);
  el.loginText = i18n(h("p"), "loginRequired");
  el.loginLink = config.loginUrl ? i18n(h("a", { className: "login-link", href: config.loginUrl }), "login") : null;
  el.login = h("div", { className: "login-required", "data-testid": "widget-login-required", hidden: true },
               [h("span", { className: "login-icon" }, [icon(ICON_PERSON)]), el.loginText, el.loginLink]);
  el.input = h("input", { id: "pa-input", className: "input", type: "text", autocomplete: "off",
                          maxlength: String(MAX_CHARS), "data-testid": "chat-input" });
  i18n(el.input, "placeholder", "placeholder");
  el.inputLabel = i18n(h("label", { "for": "pa-input", className: "sr-only" }), "inputLabel");
  el.sendText = i18n(h("span", { className: "send-text" }), "send");
  el.send = h("button", { type: "submit", className: "send", "data-testid": "chat-send" }, [icon(ICON_SEND), el.sendText]);
  el.counter = h("p", { id: "pa-counter", className: "counter", "data-testid": "chat-counter", hidden: true });
  el.composer = h("form", { className: "composer", novalidate: true }, [el.inputLabel, el.input, el.send, el.counter]);
  el.panel = h("section", { id: "pa-panel", className: "panel", role: "dialog", "aria-modal": "false",
                            "aria-labelledby": "pa-title", "data-testid": "widget-panel", hidden: true }, [
    h("header", { className: "header" }, [h("div", { className: "heading" }, [el.title, el.subtitle]), el.close]),
    el.status, el.scroller, el.typingLive, el.login, el.composer
  ]);
  // the launcher first: Tab goes from it into the panel it opens
  el.root = h("div", { className: "root", hidden: true }, [el.launcher, el.panel]);
  root.appendChild(el.css);
  root.appendChild(el.root);
  // shown once styled (also if widget.css fails: a plain but working widget beats none)
  function reveal() { el.root.hidden = false; }
  el.css.addEventListener("load", reveal);
  el.css.addEventListener("error", function () { console.warn("PortalAssistant: widget.css not loaded"); reveal(); });

  function mount() { if (!host.isConnected) document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---------- state ----------
  var user = null;            // GET /users/me of the current token
  var socket = null, sessionId = null, sessionReady = false, historyDone = false, historyUnsupported = false;
  var pending = [];           // [{payload, row, id}] to send: typed before the session was ready, or sent and not
                              // acknowledged when the connection dropped
  var unacked = [];           // [{payload, row, id}] sent, waiting for the server's acknowledgement
  var typingTimer = null, lingerTimer = null, historyTimer = null, retryTimer = null, sawTurnEnd = false;
  var generation = 0;         // bumps on every setToken: late answers of an older token are dropped
  var mode = "idle";          // idle | loading | ready | login | error

  // ---------- language ----------
  function applyLang() {
    lang = pageLang();
    host.setAttribute("lang", lang);
    root.querySelectorAll("[data-i18n]").forEach(function (n) { n.textContent = t(n.getAttribute("data-i18n")); });
    ["aria-label", "placeholder"].forEach(function (attr) {
      root.querySelectorAll("[data-i18n-" + attr + "]").forEach(function (n) { n.setAttribute(attr, t(n.getAttribute("data-i18n-" + attr))); });
    });
    renderWelcome();
    renderBadge();
    updateCounter();
    if (el.status.dataset.key) showStatus(el.status.dataset.key);
  }
  new MutationObserver(function () { if (!config.lang && !langOverride) applyLang(); })
    .observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });

  // ---------- open / close / badge ----------
  function renderBadge() {
    var n = ui.unread;
    el.badge.textContent = n > 99 ? "99+" : String(n);
    el.badge.hidden = n === 0 || ui.open;
    var label = t("launcher");
    if (n && !ui.open) label += " (" + (n === 1 ? t("unreadOne") : t("unreadMany", { n: n })) + ")";
    el.launcher.setAttribute("aria-label", label);
  }
  function open(opts) {
    opts = opts || {};
    ui.open = true; ui.unread = 0; saveState();
    el.panel.hidden = false;
    el.launcher.setAttribute("aria-expanded", "true");
    host.setAttribute("data-open", "");
    renderBadge();
    scrollDown();
    if (opts.focus !== false) focusInside();
  }
  function close(opts) {
    opts = opts || {};
    var hadFocus = root.activeElement && el.panel.contains(root.activeElement);
    ui.open = false; saveState();
    el.panel.hidden = true;
    el.launcher.setAttribute("aria-expanded", "false");
    host.removeAttribute("data-open");
    renderBadge();
    if (opts.focus || hadFocus) el.launcher.focus();
  }
  function focusInside() {
    if (!el.input.disabled && !el.composer.hidden) el.input.focus();
    else if (el.loginLink && !el.login.hidden) el.loginLink.focus();
    else el.close.focus();
  }
  // the host's login form must not be hidden behind the panel
  if (el.loginLink) el.loginLink.addEventListener("click", function () { close(); });
  el.launcher.addEventListener("click", function () { if (ui.open) close({ focus: true }); else open(); });
  el.close.addEventListener("click", function () { close({ focus: true }); });
  el.root.addEventListener("keydown", function (evt) {
    if ((evt.key === "Escape" || evt.key === "Esc") && ui.open) { evt.preventDefault(); evt.stopPropagation(); close({ focus: true }); }
  });

  // ---------- status line and modes ----------
  function showStatus(key) { el.status.dataset.key = key; el.status.textContent = t(key); el.status.classList.add("shown"); }
  function hideStatus() { delete el.status.dataset.key; el.status.textContent = ""; el.status.classList.remove("shown"); }

  function setMode(m) {
    mode = m;
    var login = m === "login" || m === "idle";
    el.login.hidden = !login;
    el.composer.hidden = login;
    // signed out with nothing to show: the invitation to log in fills the panel
    el.panel.classList.toggle("signed-out", login && !el.messages.firstChild);
    // while connecting the user may already type: the message waits for the session
    el.input.disabled = m !== "ready" && m !== "loading";
    el.send.disabled = el.input.disabled;
    if (m === "loading") showStatus("connecting");
    else if (m === "error") showStatus("unavailable");
    else if (m !== "ready") hideStatus();
  }

  // ---------- rendering ----------
  var SAFE_URL = /^(https?:\/\/|mailto:)/i;
  // a backslash before punctuation is an escape (user-written text the assistant repeats: actions/text.py
  // escape_markdown): the character is shown as typed and starts no link or emphasis
  var INLINE = /\\([!-\/:-@\[-`{-~])|\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)|\*\*([^*\n]+?)\*\*|(https?:\/\/[^\s<>"]+)/g;

  function link(href, label, className) {
    var a = h("a", { href: href, target: "_blank", rel: "noopener noreferrer", className: className }, [label || href]);
    a.appendChild(i18n(h("span", { className: "sr-only" }), "newTab"));
    return a;
  }

  function unescape(text) { return text.replace(/\\([!-\/:-@\[-`{-~])/g, "$1"); }

  function appendFormatted(parent, text) {
    var last = 0, m, re = new RegExp(INLINE.source, "g");
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var consumed = m[0];
      if (m[1]) parent.appendChild(document.createTextNode(m[1]));
      else if (m[2]) parent.appendChild(link(m[3], unescape(m[2])));
      else if (m[4]) { var b = h("strong"); appendFormatted(b, m[4]); parent.appendChild(b); }
      else {
        var url = m[5].replace(/[.,;:!?)\]]+$/, ""); // trailing punctuation stays text
        consumed = url;
        parent.appendChild(link(url));
        re.lastIndex = m.index + url.length;
      }
      last = m.index + consumed.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function absolute(url) {
    if (!url) return null;
    try { var u = new URL(String(url), config.backendUrl + "/"); return /^https?:$/.test(u.protocol) ? u.href : null; }
    catch (e) { return null; }
  }

  function addRow(kind, live) {
    var li = h("li", { className: "msg " + kind + (live ? " enter" : "") });
    el.messages.appendChild(li);
    return li;
  }
  function addBubble(li, testid, who) {
    li.appendChild(i18n(h("span", { className: "sr-only" }), who));
    li.appendChild(document.createTextNode(" "));
    var div = h("div", { className: "bubble", "data-testid": testid });
    li.appendChild(div);
    return div;
  }
  function addUser(text, live) {
    var li = addRow("user", live);
    addBubble(li, "user-message", "you").textContent = text;
    scrollDown();
    return li;
  }

  var welcomeRow = null;
  function renderWelcome() {
    if (!welcomeRow) return;
    var first = user && (user.full_name || "").trim().split(/\s+/)[0];
    var bubble = welcomeRow.querySelector(".bubble");
    bubble.textContent = "";
    appendFormatted(bubble, t("welcome", { name: first ? " " + first : "" }));
  }
  function resetLog() {
    el.messages.textContent = "";
    welcomeRow = null;
    if (!user) return;
    welcomeRow = addRow("bot welcome", false);
    addBubble(welcomeRow, "welcome-message", "bot");
    renderWelcome();
  }

  function renderAttachment(bubble, att) {
    var p = (att && att.payload) || {};
    var src = typeof att === "string" ? att : p.src || p.url || att.url;
    if (att && att.type === "image" && src && SAFE_URL.test(src)) {
      var img = h("img", { src: src, alt: p.alt || t("image") });
      img.addEventListener("load", scrollDown);
      bubble.appendChild(img);
    } else if (src && SAFE_URL.test(src)) {
      bubble.appendChild(link(src, p.title || p.name || t("openLink")));
    } else if (p.elements) {
      [].concat(p.elements).forEach(function (e) {
        if (e && e.title) appendFormatted(bubble, e.title + (e.subtitle ? "\n" + e.subtitle : "") + "\n");
      });
    }
  }

  var cardCount = 0;
  function renderArticle(li, a) {
    var id = "pa-card-" + (++cardCount);
    var url = absolute(a.url);
    var card = h("article", { className: "card", "data-testid": "article-card", "aria-labelledby": id }, [
      h("p", { className: "card-kicker" }, [i18n(h("span"), "article"), a.number ? " · " + a.number : ""]),
      h("h3", { id: id, className: "card-title", text: a.title || a.number || "" }),
      a.summary ? h("p", { className: "card-summary", text: String(a.summary) }) : null
    ]);
    if (url) {
      var more = h("a", { className: "card-link", href: url, target: "_blank", rel: "noopener noreferrer" },
                   [i18n(h("span"), "openArticle"), h("span", { className: "sr-only", text: " – " + (a.title || "") }),
                    i18n(h("span", { className: "sr-only" }), "newTab")]);
      card.appendChild(more);
    }
    li.appendChild(i18n(h("span", { className: "sr-only" }), "bot"));
    li.appendChild(card);
  }

  function renderButtons(li, buttons) {
    var group = i18n(h("div", { className: "replies", role: "group" }), "replies", "aria-label");
    buttons.forEach(function (btn) {
      if (!btn || !btn.title) return;
      if (btn.url) {
        var href = absolute(btn.url);
        if (href) group.appendChild(link(href, btn.title, "reply reply-link"));
        return;
      }
      var b = h("button", { type: "button", className: "reply", "data-testid": "quick-reply",
                            "data-payload": btn.payload || btn.title, text: btn.title });
      b.addEventListener("click", function () {
        if (b.disabled) return;
        b.classList.add("chosen");
        b.setAttribute("aria-pressed", "true");
        sendMessage(btn.payload || btn.title, btn.title);
        el.input.focus();
      });
      group.appendChild(b);
    });
    if (group.childNodes.length) li.appendChild(group);
  }

  // Renders one bot message (live or from history). Returns true when something was shown.
  function renderBot(msg, live) {
    if (msg == null) return false;
    if (typeof msg === "string") msg = { text: msg };
    if (typeof msg !== "object") return false;
    var buttons = [].concat(msg.quick_replies || [], msg.buttons || []);
    var article = msg.article && typeof msg.article === "object" ? msg.article : null;
    var hasBody = msg.text || msg.attachment || msg.image;
    if (!hasBody && !buttons.length && !article) return false;
    var li = addRow("bot", live);
    if (article) renderArticle(li, article); // the text is then the plain version for channels without cards
    else {
      var bubble = addBubble(li, "bot-message", "bot");
      if (msg.text) appendFormatted(bubble, String(msg.text));
      if (msg.image) renderAttachment(bubble, { type: "image", payload: { src: msg.image } });
      if (msg.attachment) renderAttachment(bubble, msg.attachment);
    }
    if (buttons.length) renderButtons(li, buttons);
    scrollDown();
    return true;
  }

  // Only the replies of the bot messages after the user's last message can still be chosen.
  function retireReplies() {
    el.messages.querySelectorAll("button.reply").forEach(function (b) { b.disabled = true; });
  }

  function renderHistory(messages) {
    // a message the history holds was taken (its answer is there or on its way): it is not sent again
    var taken = {};
    (messages || []).forEach(function (m) { if (m && m.from === "user" && m.id) taken[m.id] = true; });
    pending = pending.filter(function (p) { return !taken[p.id]; });
    if (!pending.length) hideTyping(); // the turns are over: a message is in the history once its turn is
    var kept = pending.map(function (p) { return p.row; });
    // the history is shown again, not announced again: the live region is off while it is rebuilt
    el.messages.setAttribute("aria-live", "off");
    setTimeout(function () { el.messages.setAttribute("aria-live", "polite"); }, 500);
    resetLog();
    var lastButtons = [];
    (messages || []).forEach(function (m) {
      if (!m) return;
      if (m.from === "user") {
        var text = String(m.text == null ? "" : m.text);
        // a button's payload is shown as the button's title (and that button as the one chosen)
        var chosen = lastButtons.filter(function (b) {
          return b.getAttribute("data-payload") === text || b.textContent === text;
        })[0];
        if (chosen) { chosen.classList.add("chosen"); chosen.setAttribute("aria-pressed", "true"); text = chosen.textContent; }
        retireReplies();
        lastButtons = [];
        if (text) addUser(text, false);
      } else {
        if (renderBot(m, false)) {
          var rows = el.messages.querySelectorAll("li.bot");
          lastButtons = lastButtons.concat([].slice.call(rows[rows.length - 1].querySelectorAll("button.reply")));
        }
      }
    });
    kept.forEach(function (row) { if (row) el.messages.appendChild(row); });
    if (kept.length) retireReplies();
    scrollDown();
  }

  function showTyping() {
    el.typing.hidden = false;
    if (!el.typingLive.textContent) el.typingLive.textContent = t("typing");
    clearTimeout(typingTimer); clearTimeout(lingerTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollDown();
  }
  function hideTyping() {
    clearTimeout(typingTimer); clearTimeout(lingerTimer);
    el.typing.hidden = true;
    el.typingLive.textContent = "";
  }
  function scrollDown() { el.scroller.scrollTop = el.scroller.scrollHeight; }

  // ---------- sending ----------
  function emitMessage(entry) {
    var s = socket, session = sessionId;
    unacked.push(entry);
    s.emit("user_uttered", { message: entry.payload, session_id: session, message_id: entry.id,
                             customData: { token: currentToken(), lang: lang } }, function (ack) {
      unacked = unacked.filter(function (e) { return e !== entry; });
      // a copy of a message the server had already taken: its answer is in the history
      if (ack && ack.duplicate && s === socket && s.connected) s.emit("history_request", { session_id: session });
    });
  }
  function sendMessage(payload, display) {
    if (!payload || (mode !== "ready" && mode !== "loading")) return;
    retireReplies();
    var entry = { payload: payload, row: addUser(display || payload, true), id: uuid() };
    showTyping();
    if (socket && socket.connected && sessionReady && historyDone) emitMessage(entry);
    else pending.push(entry);
  }
  function flushPending() {
    while (pending.length && socket && socket.connected) emitMessage(pending.shift());
  }

  function updateCounter() {
    var n = el.input.value.length;
    el.counter.hidden = n < COUNTER_FROM;
    if (el.counter.hidden) el.input.removeAttribute("aria-describedby"); else el.input.setAttribute("aria-describedby", "pa-counter");
    el.counter.textContent = t("counter", { n: n, max: MAX_CHARS });
    el.counter.classList.toggle("full", n >= MAX_CHARS);
  }
  el.input.addEventListener("input", updateCounter);
  el.composer.addEventListener("submit", function (evt) {
    evt.preventDefault();
    var text = el.input.value.trim();
    if (!text) return;
    el.input.value = "";
    updateCounter();
    sendMessage(text.slice(0, MAX_CHARS));
  });

  // ---------- backend and socket.io ----------
  var rasaUrlPromise = null;
  function rasaUrl() {
    if (config.rasaUrl) return Promise.resolve(config.rasaUrl);
    if (!rasaUrlPromise) {
      rasaUrlPromise = fetch(config.backendUrl + "/chat/config.json", { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (c) {
          if (!c || !c.rasa_url) throw new Error("no rasa_url");
          if (c.socket_path && !pick(js.socketPath, attrs.socketPath)) config.socketPath = c.socket_path;
          return noSlash(c.rasa_url);
        })
        .catch(function (e) { rasaUrlPromise = null; throw e; });
    }
    return rasaUrlPromise;
  }

  var ioPromise = null;
  function loadIo() {
    if (typeof window.io === "function") return Promise.resolve(window.io);
    if (!ioPromise) {
      ioPromise = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = BASE + "vendor/socket.io.min.js";
        s.async = true;
        s.onload = function () { typeof window.io === "function" ? resolve(window.io) : reject(new Error("no io")); };
        s.onerror = function () { ioPromise = null; reject(new Error("socket.io client not loaded")); };
        document.head.appendChild(s);
      });
    }
    return ioPromise;
  }

  function loadUser(token) {
    return fetch(config.backendUrl + "/users/me", { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      });
  }

  function disconnect() {
    if (socket) { socket.removeAllListeners(); socket.disconnect(); }
    socket = null; sessionReady = false; historyDone = false;
    clearTimeout(historyTimer); clearTimeout(retryTimer);
  }

  function loginRequired() {
    disconnect();
    hideTyping();
    pending = []; unacked = [];
    setMode("login");
  }

  function start() {
    var gen = ++generation;
    disconnect();
    hideTyping();
    // a new token of the same user (a refresh) keeps what is still to send; another user's never gets it
    var carried = unacked.concat(pending);
    pending = []; unacked = [];
    var token = currentToken();
    if (!token) { user = null; resetLog(); setMode("idle"); return; }
    setMode("loading");
    loadUser(token).then(function (me) {
      if (gen !== generation) return null;
      if (!me) { user = null; resetLog(); loginRequired(); return null; }
      var changed = !user || user.id !== me.id;
      user = me;
      if (changed) resetLog(); else { renderWelcome(); pending = carried; }
      return Promise.all([rasaUrl(), loadIo()]).then(function (r) { if (gen === generation) connect(r[0], r[1], gen); });
    }).catch(function (e) {
      if (gen !== generation) return;
      console.warn("PortalAssistant:", e);
      setMode("error");
      retryTimer = setTimeout(function () { if (gen === generation) start(); }, RETRY_MS);
    });
  }

  function connect(url, io, gen) {
    sessionId = storedSessionId() || uuid();
    socket = io(url, {
      path: config.socketPath,
      // one connection, hence one Rasa worker, for the whole conversation (long-polling would spread it)
      transports: ["websocket"],
      forceNew: true, // a fresh connection per token: nothing shared with an earlier user's
      auth: function (cb) { cb({ token: currentToken() }); }, // re-read on every reconnection
      reconnectionDelayMax: 10000
    });
    socket.on("connect", function () {
      sessionReady = false; historyDone = false;
      socket.emit("session_request", { session_id: storedSessionId() || sessionId });
    });
    socket.on("session_confirm", function (data) {
      var id = typeof data === "string" ? data : data && data.session_id;
      if (!id) return;
      sessionId = id; // may differ from the one asked: that one belongs to someone else
      put("localStorage", sessionKey(), id);
      sessionReady = true;
      hideStatus();
      setMode("ready");
      if (historyUnsupported) { historyDone = true; flushPending(); return; }
      socket.emit("history_request", { session_id: id });
      clearTimeout(historyTimer);
      historyTimer = setTimeout(function () { // a server without history: do not hold messages back
        historyUnsupported = true; historyDone = true; flushPending();
      }, HISTORY_WAIT_MS);
    });
    socket.on("history", function (data) {
      if (!data || (data.session_id && data.session_id !== sessionId)) return;
      clearTimeout(historyTimer);
      historyUnsupported = false;
      renderHistory(Array.isArray(data.messages) ? data.messages : []);
      historyDone = true;
      flushPending();
    });
    socket.on("bot_uttered", function (msg) {
      if (!renderBot(msg, true)) return;
      if (!ui.open) { ui.unread += 1; saveState(); renderBadge(); }
      if (!el.typing.hidden) {
        if (sawTurnEnd) { el.scroller.appendChild(el.typing); scrollDown(); }
        else { clearTimeout(lingerTimer); lingerTimer = setTimeout(hideTyping, TYPING_LINGER_MS); }
      }
    });
    socket.on("turn_end", function () { sawTurnEnd = true; hideTyping(); });
    socket.on("login_required", function () { if (gen === generation) loginRequired(); });
    socket.on("disconnect", function (reason) {
      sessionReady = false; historyDone = false;
      pending = unacked.concat(pending); unacked = []; // sent again after the reconnection unless taken
      if (reason === "io client disconnect") return;
      showStatus("reconnecting");
      if (reason === "io server disconnect") socket.connect(); // not retried automatically
    });
    socket.on("connect_error", function (err) {
      var reason = err && err.message;
      if (reason === "login_required") { loginRequired(); return; } // until setToken() again
      if (reason === "portal_unavailable") { // refused for now: socket.io does not retry a refusal by itself
        showStatus("unavailable");
        clearTimeout(retryTimer);
        retryTimer = setTimeout(function () { if (gen === generation && socket && !socket.connected) socket.connect(); }, RETRY_MS);
        return;
      }
      showStatus("reconnecting"); // network errors: socket.io retries with its backoff
    });
  }

  // ---------- public API ----------
  window.PortalAssistant = {
    version: VERSION,
    setToken: function (token) {
      tokenFromApi = token ? String(token) : null;
      if (!tokenFromApi) { ui.unread = 0; close(); } // logged out: nothing left to show
      start();
    },
    open: function () { open(); },
    close: function () { close(); },
    setLang: function (l) { langOverride = l === "fr" || l === "en" ? l : null; applyLang(); }
  };

  // ---------- start ----------
  applyLang();
  setMode("idle");
  if (ui.open) open({ focus: false }); else renderBadge();
  start();
})();
