/* Canon self-service assistant – web chat (plain JS, no build step).
 * Page served at /chat/, API at /auth/token and /users/me, Rasa reached over socket.io. */
(function () {
  "use strict";

  var TOKEN_KEY = "mps_chat_token";
  var SESSION_KEY = "mps_chat_session_id";
  var CONFIG_URL = "config.json"; // relative to /chat/
  var DEFAULT_CONFIG = { rasa_url: "http://localhost:5005", socket_path: "/socket.io/" };
  var TYPING_TIMEOUT_MS = 30000;

  var STRINGS = {
    fr: {
      pageTitle: "Assistant Canon – libre-service", title: "Assistant libre-service",
      skip: "Aller au champ de message", logout: "Déconnexion",
      loginTitle: "Connexion", loginIntro: "Connectez-vous pour discuter avec l'assistant de vos imprimantes Canon.",
      email: "Adresse e-mail", password: "Mot de passe", submit: "Se connecter",
      demo: "Compte de démo : sntestportaldemo@outlook.com", demoPassword: "Mot de passe : voir le README",
      conversation: "Conversation", typing: "L'assistant écrit…", inputLabel: "Votre message",
      placeholder: "Écrivez votre message…", send: "Envoyer",
      errMissing: "Veuillez saisir votre adresse e-mail et votre mot de passe.",
      errCredentials: "Adresse e-mail ou mot de passe incorrect.",
      errNetwork: "Impossible de joindre le serveur. Vérifiez votre connexion et réessayez.",
      errServer: "Une erreur est survenue. Veuillez réessayer plus tard.",
      errExpired: "Votre session a expiré. Veuillez vous reconnecter.",
      errNoSocket: "Le module de discussion n'a pas pu être chargé.",
      reconnecting: "Connexion perdue, reconnexion…",
      roleAdmin: "Administrateur", roleUser: "Utilisateur",
      welcome: "Bonjour{name} ! Je suis votre assistant pour vos imprimantes Canon : relevés de compteurs, consommables, incidents, factures… Comment puis-je vous aider ?",
      you: "Vous :", bot: "Assistant :", image: "Image", openLink: "Ouvrir le lien"
    },
    en: {
      pageTitle: "Canon assistant – self-service", title: "Self-service assistant",
      skip: "Skip to message field", logout: "Log out",
      loginTitle: "Sign in", loginIntro: "Sign in to chat with the assistant for your Canon printers.",
      email: "E-mail address", password: "Password", submit: "Sign in",
      demo: "Demo account: sntestportaldemo@outlook.com", demoPassword: "Password: see README",
      conversation: "Conversation", typing: "The assistant is typing…", inputLabel: "Your message",
      placeholder: "Type your message…", send: "Send",
      errMissing: "Please enter your e-mail address and password.",
      errCredentials: "Incorrect e-mail address or password.",
      errNetwork: "Cannot reach the server. Check your connection and try again.",
      errServer: "Something went wrong. Please try again later.",
      errExpired: "Your session has expired. Please sign in again.",
      errNoSocket: "The chat module could not be loaded.",
      reconnecting: "Connection lost, reconnecting…",
      roleAdmin: "Administrator", roleUser: "User",
      welcome: "Hello{name}! I am the assistant for your Canon printers: meter readings, supplies, incidents, invoices… How can I help you?",
      you: "You:", bot: "Assistant:", image: "Image", openLink: "Open link"
    }
  };

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    loginView: $("login-view"), loginForm: $("login-form"), email: $("login-email"), password: $("login-password"),
    loginError: $("login-error"), loginSubmit: $("login-submit"), chatView: $("chat-view"), userBox: $("user-box"),
    userName: $("user-name"), userRole: $("user-role"), userAccount: $("user-account"), logout: $("logout"),
    banner: $("banner"), scroller: $("scroller"), messages: $("messages"), typing: $("typing"),
    composer: $("composer"), input: $("chat-input"), send: $("chat-send")
  };

  var browserLang = /^fr\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || "") ? "fr" : "en";
  var lang = browserLang;
  var user = null, socket = null, sessionReady = false, pending = [], typingTimer = null, configPromise = null;

  // ---------- i18n ----------
  function t(key, vars) {
    var s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ""; });
  }
  function setLang(l) {
    lang = STRINGS[l] ? l : browserLang;
    document.documentElement.lang = lang;
    document.title = t("pageTitle");
    document.querySelectorAll("[data-i18n]").forEach(function (n) { n.textContent = t(n.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (n) { n.placeholder = t(n.dataset.i18nPlaceholder); });
    if (user) renderUser();
    if (!el.banner.hidden && el.banner.dataset.key) showBanner(el.banner.dataset.key);
  }

  // ---------- storage ----------
  function store(key, val) { try { val == null ? sessionStorage.removeItem(key) : sessionStorage.setItem(key, val); } catch (e) { /* private mode */ } }
  function load(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function sessionId() { var id = load(SESSION_KEY); if (!id) store(SESSION_KEY, id = uuid()); return id; }

  // ---------- views ----------
  function showError(key) { el.loginError.textContent = t(key); el.loginError.dataset.key = key; el.loginError.hidden = false; }
  function clearError() { el.loginError.hidden = true; el.loginError.textContent = ""; }
  function showBanner(key) { el.banner.dataset.key = key; el.banner.textContent = t(key); el.banner.hidden = false; }
  function hideBanner() { el.banner.hidden = true; el.banner.textContent = ""; delete el.banner.dataset.key; }

  function showLogin(errorKey) {
    user = null;
    setLang(browserLang);
    el.userBox.hidden = true; el.chatView.hidden = true; el.loginView.hidden = false;
    el.loginSubmit.disabled = false;
    if (errorKey) showError(errorKey); else clearError();
    el.email.focus();
  }
  function renderUser() {
    el.userName.textContent = user.full_name || user.email || "";
    el.userRole.textContent = user.role === "admin" ? t("roleAdmin") : t("roleUser");
    el.userAccount.textContent = (user.account && user.account.name) || "";
  }
  function showChat() {
    setLang(user.language);
    renderUser();
    el.loginView.hidden = true; el.userBox.hidden = false; el.chatView.hidden = false;
    el.messages.textContent = "";
    addWelcome();
    connectSocket();
    el.input.focus();
  }

  // ---------- auth ----------
  function login(evt) {
    evt.preventDefault();
    clearError();
    var email = el.email.value.trim(), password = el.password.value;
    if (!email || !password) { showError("errMissing"); return; }
    el.loginSubmit.disabled = true;
    fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ username: email, password: password }).toString()
    }).then(function (r) {
      if (r.status === 400 || r.status === 401 || r.status === 403) throw "errCredentials";
      if (!r.ok) throw "errServer";
      return r.json();
    }).then(function (data) {
      if (!data || !data.access_token) throw "errServer";
      store(TOKEN_KEY, data.access_token);
      el.password.value = "";
      return loadMe();
    }).catch(function (e) {
      el.loginSubmit.disabled = false;
      showError(typeof e === "string" ? e : "errNetwork");
    });
  }

  function loadMe() {
    var token = load(TOKEN_KEY);
    if (!token) { showLogin(); return Promise.resolve(); }
    return fetch("/users/me", { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { store(TOKEN_KEY, null); showLogin("errExpired"); return; }
        if (!r.ok) throw "errServer";
        return r.json().then(function (me) { user = me; showChat(); });
      })
      .catch(function (e) { showLogin(typeof e === "string" ? e : "errNetwork"); });
  }

  function logout() {
    store(TOKEN_KEY, null);
    store(SESSION_KEY, null); // next user starts a fresh Rasa conversation
    disconnectSocket();
    hideTyping();
    el.messages.textContent = "";
    el.email.value = ""; el.password.value = "";
    showLogin();
  }

  // ---------- socket.io / Rasa ----------
  function getConfig() {
    if (!configPromise) {
      configPromise = fetch(CONFIG_URL, { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (c) { return { rasa_url: c.rasa_url || DEFAULT_CONFIG.rasa_url, socket_path: c.socket_path || DEFAULT_CONFIG.socket_path }; })
        .catch(function (e) { console.warn("chat: config.json unavailable, using defaults", e); configPromise = null; return DEFAULT_CONFIG; });
    }
    return configPromise;
  }

  function connectSocket() {
    if (socket) return;
    if (typeof window.io !== "function") { showBanner("errNoSocket"); return; }
    getConfig().then(function (cfg) {
      if (socket || !user) return;
      socket = window.io(cfg.rasa_url, {
        path: cfg.socket_path,
        // one connection, hence one Rasa worker process, for the whole conversation (long-polling would spread
        // a session's requests over the workers, which do not share socket.io sessions)
        transports: ["websocket"],
        auth: { token: load(TOKEN_KEY) } // only checked if Rasa has a jwt_key
      });
      socket.on("connect", function () {
        hideBanner();
        sessionReady = false;
        socket.emit("session_request", { session_id: sessionId() });
      });
      socket.on("session_confirm", function (data) {
        var id = typeof data === "string" ? data : data && data.session_id;
        if (id && id !== load(SESSION_KEY)) store(SESSION_KEY, id);
        sessionReady = true;
        while (pending.length) emitMessage(pending.shift());
      });
      socket.on("bot_uttered", function (msg) { hideTyping(); renderBot(msg); });
      socket.on("disconnect", function (reason) {
        sessionReady = false;
        if (reason === "io client disconnect") return;
        showBanner("reconnecting");
        if (reason === "io server disconnect") socket.connect(); // not retried automatically
      });
      socket.on("connect_error", function () { showBanner("reconnecting"); });
    });
  }

  function disconnectSocket() {
    if (socket) { socket.removeAllListeners(); socket.disconnect(); socket = null; }
    sessionReady = false; pending = [];
    hideBanner();
  }

  function emitMessage(text) {
    socket.emit("user_uttered", { message: text, session_id: sessionId(), customData: { token: load(TOKEN_KEY) } });
  }

  function sendMessage(payload, display) {
    if (!payload) return;
    addUser(display || payload);
    showTyping();
    if (socket && socket.connected && sessionReady) emitMessage(payload);
    else { pending.push(payload); connectSocket(); }
  }

  // ---------- rendering ----------
  var SAFE_URL = /^(https?:\/\/|mailto:)/i;
  var INLINE = /\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)|\*\*([^*\n]+?)\*\*|(https?:\/\/[^\s<>"]+)/g;

  function link(href, label) {
    var a = document.createElement("a");
    a.href = href; a.textContent = label || href; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }

  // Builds DOM nodes (never innerHTML), so bot text cannot inject markup.
  function appendFormatted(parent, text) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var consumed = m[0];
      if (m[1]) parent.appendChild(link(m[2], m[1]));
      else if (m[3]) {
        var b = document.createElement("strong");
        parent.appendChild(b);
        appendFormatted(b, m[3]);
        INLINE.lastIndex = m.index + consumed.length; // the recursive call reset the shared regex
      } else {
        var url = m[4].replace(/[.,;:!?)\]]+$/, ""); // leave trailing punctuation out of the link
        consumed = url;
        parent.appendChild(link(url));
        INLINE.lastIndex = m.index + url.length;
      }
      last = m.index + consumed.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function addRow(kind) { var li = document.createElement("li"); li.className = "msg " + kind; return el.messages.appendChild(li); }
  function addBubble(li, testid, who) {
    var div = document.createElement("div");
    div.className = "bubble";
    if (testid) div.dataset.testid = testid;
    var sr = document.createElement("span");
    sr.className = "sr-only"; sr.textContent = t(who) + " ";
    li.appendChild(sr);
    li.appendChild(div);
    return div;
  }

  function addUser(text) { addBubble(addRow("user"), "user-message", "you").textContent = text; scrollDown(); }

  function addWelcome() {
    var first = (user.full_name || "").trim().split(/\s+/)[0];
    appendFormatted(addBubble(addRow("bot welcome"), "welcome-message", "bot"), t("welcome", { name: first ? " " + first : "" }));
    scrollDown();
  }

  function renderAttachment(bubble, att) {
    var p = (att && att.payload) || {};
    var src = typeof att === "string" ? att : p.src || p.url || att.url;
    if (att && att.type === "image" && src && SAFE_URL.test(src)) {
      var img = document.createElement("img");
      img.src = src; img.alt = p.alt || t("image");
      img.addEventListener("load", scrollDown);
      bubble.appendChild(img);
    } else if (src && SAFE_URL.test(src)) {
      bubble.appendChild(link(src, p.title || p.name || t("openLink")));
    } else if (p.elements) {
      [].concat(p.elements).forEach(function (e) { if (e && e.title) appendFormatted(bubble, e.title + (e.subtitle ? "\n" + e.subtitle : "") + "\n"); });
    }
  }

  function renderButtons(li, buttons) {
    var group = document.createElement("div");
    group.className = "replies";
    group.setAttribute("role", "group");
    buttons.forEach(function (btn) {
      if (!btn || !btn.title) return;
      if (btn.url && SAFE_URL.test(btn.url)) {
        var a = link(btn.url, btn.title); a.className = "reply"; a.dataset.testid = "quick-reply";
        group.appendChild(a); return;
      }
      var b = document.createElement("button");
      b.type = "button"; b.className = "reply"; b.textContent = btn.title; b.dataset.testid = "quick-reply";
      b.addEventListener("click", function () {
        group.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        b.classList.add("chosen");
        sendMessage(btn.payload || btn.title, btn.title);
        el.input.focus();
      });
      group.appendChild(b);
    });
    if (group.childNodes.length) li.appendChild(group);
  }

  function renderBot(msg) {
    if (msg == null) return;
    if (typeof msg === "string") msg = { text: msg };
    if (typeof msg !== "object") return;
    var buttons = [].concat(msg.quick_replies || [], msg.buttons || []);
    var hasBody = msg.text || msg.attachment || msg.image;
    if (!hasBody && !buttons.length) { console.debug("chat: unrendered bot message", msg); return; }
    var li = addRow("bot");
    if (hasBody) {
      var bubble = addBubble(li, "bot-message", "bot");
      if (msg.text) appendFormatted(bubble, String(msg.text));
      if (msg.image) renderAttachment(bubble, { type: "image", payload: { src: msg.image } });
      if (msg.attachment) renderAttachment(bubble, msg.attachment);
    }
    if (buttons.length) renderButtons(li, buttons);
    scrollDown();
  }

  function showTyping() {
    el.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollDown();
  }
  function hideTyping() { clearTimeout(typingTimer); el.typing.hidden = true; }
  function scrollDown() { el.scroller.scrollTop = el.scroller.scrollHeight; }

  // ---------- wiring ----------
  el.loginForm.addEventListener("submit", login);
  el.logout.addEventListener("click", logout);
  el.composer.addEventListener("submit", function (evt) {
    evt.preventDefault();
    var text = el.input.value.trim();
    if (!text) return;
    el.input.value = "";
    sendMessage(text);
  });

  setLang(browserLang);
  if (load(TOKEN_KEY)) loadMe(); else showLogin();
})();
