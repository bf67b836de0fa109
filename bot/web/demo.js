/* The demo host pages of the assistant widget (plain JS, no build step):
 *   index.html        a portal page with a login form (POST /auth/token, GET /users/me, logout);
 *   portal-cases.html another portal page (the user's cases, GET /cases), to show the chat following the user;
 *   embed-demo.html   an unrelated intranet page embedding the same widget with another colour.
 * The login keeps only the access token, in sessionStorage (never the password), under the key the widget is
 * told to read (data-token-storage-key) and the secure password page reads (password.js). Every string in FR
 * and EN; the page's <html lang> is followed by the widget. */
(function () {
  "use strict";

  var TOKEN_KEY = "mps_chat_token"; // the same key as password.js and the widget's data-token-storage-key
  // Access tokens live ACCESS_TOKEN_MINUTES (15 by default): the page exchanges its single-use refresh token for a
  // new pair a minute before, and hands the new access token to the widget (README "Sessions and tokens").
  var REFRESH_KEY = "mps_chat_refresh";
  var refreshTimer = null;
  var LANG_KEY = "portal.lang";     // the language the visitor chose with the switch (localStorage)

  var STRINGS = {
    fr: {
      titleHome: "Assistant Canon – libre-service", titleCases: "Mes dossiers – libre-service",
      titleIntranet: "Lumen & Co – intranet", otherLang: "English",
      skip: "Aller au contenu", brand: "Portail libre-service", logout: "Déconnexion", login: "Se connecter",
      navLabel: "Navigation principale", navHome: "Accueil", navCases: "Mes dossiers",
      navEmbed: "Démo : l'assistant sur un autre site",
      homeTitle: "Bienvenue sur votre portail libre-service",
      homeLead: "Gérez vos imprimantes et copieurs sous contrat : signalez une panne, suivez vos dossiers, saisissez vos relevés de compteurs et commandez vos consommables.",
      tileFaultTitle: "Signaler une panne",
      tileFaultText: "Bourrage, qualité d'impression, message d'erreur : l'assistant vous propose d'abord les articles qui résolvent le problème, puis ouvre un dossier.",
      tileCasesTitle: "Suivre mes dossiers", tileCasesText: "Statut, commentaires et historique de vos demandes.",
      tileMetersTitle: "Relevés de compteurs", tileMetersText: "Saisissez vos relevés compteur par compteur avant la date de facturation.",
      tileSuppliesTitle: "Consommables", tileSuppliesText: "Toner, agrafes : commandez ce que couvre votre contrat.",
      homeAssistant: "Une question ? Ouvrez l'assistant avec le bouton en bas à droite de chaque page du portail : la conversation vous suit d'une page à l'autre.",
      loginTitle: "Connexion", loginIntro: "Connectez-vous pour accéder au portail et à l'assistant.",
      email: "Adresse e-mail", password: "Mot de passe", submit: "Se connecter",
      demo: "Comptes de démo : sntestportaldemo@outlook.com, sntestdemoportaldm@yopmail.com",
      demoPassword: "Mot de passe : voir le README",
      welcomeTitle: "Bonjour {name}", welcomeText: "Vous êtes connecté(e). L'assistant en bas à droite connaît votre compte et vos appareils.",
      welcomeCases: "Voir mes dossiers",
      roleAdmin: "Administrateur", roleUser: "Utilisateur",
      errMissing: "Veuillez saisir votre adresse e-mail et votre mot de passe.",
      errCredentials: "Adresse e-mail ou mot de passe incorrect.",
      errNetwork: "Impossible de joindre le portail. Vérifiez votre connexion et réessayez.",
      errServer: "Une erreur est survenue. Veuillez réessayer plus tard.",
      errExpired: "Votre session a expiré. Veuillez vous reconnecter.",
      footer: "Portail libre-service – démonstration. Le mot de passe n'est jamais enregistré : seul le jeton de connexion est gardé, le temps de l'onglet.",
      casesTitle: "Mes dossiers",
      casesLead: "Les dossiers de votre compte, du plus récent au plus ancien. Ceux que l'assistant a ouverts pour vous y figurent aussi.",
      casesLoading: "Chargement des dossiers…", casesEmpty: "Aucun dossier pour le moment.",
      casesLogin: "Connectez-vous sur la page d'accueil pour voir vos dossiers.", casesCount: "{n} dossier(s).",
      colNumber: "Numéro", colSubject: "Objet", colDevice: "Appareil", colStatus: "Statut", colCreated: "Créé le",
      intraKicker: "Intranet", intraTagline: "La lettre interne de tous les ateliers", intraNavLabel: "Rubriques",
      intraNavNews: "À la une", intraNavAgenda: "Agenda", intraNavCanteen: "Restaurant", intraNavPortal: "Portail libre-service",
      intraHeadline: "Le nouveau copieur du deuxième étage est arrivé",
      intraByline: "Par les services généraux · 12 mars",
      intraStory1: "Plus rapide, plus silencieux et recto verso par défaut : le copieur du deuxième étage a été remplacé lundi. Les badges fonctionnent comme avant.",
      intraStory2: "Un bourrage, un voyant qui clignote, du toner à commander ? Inutile de chercher le bon formulaire : l'assistant du portail d'impression, en bas à droite de cette page, ouvre le dossier pour vous.",
      intraAgendaTitle: "Agenda", intraAgenda1: "Jeudi : petit-déjeuner des nouveaux arrivants",
      intraAgenda2: "Vendredi : atelier « Imprimer moins, imprimer mieux »",
      intraCanteenTitle: "Restaurant", intraCanteen: "Aujourd'hui : velouté de potimarron, lasagnes aux légumes, tarte aux pommes.",
      intraNoteTitle: "À propos de cette page",
      intraNote: "Page de démonstration : le même assistant, intégré par une seule balise script dans un site qui n'a rien à voir avec le portail, avec une autre couleur. Il utilise la connexion au portail de cet onglet ; sans elle, il propose de se connecter.",
      intraFooter: "Lumen & Co – intranet de démonstration"
    },
    en: {
      titleHome: "Canon assistant – self-service", titleCases: "My cases – self-service",
      titleIntranet: "Lumen & Co – intranet", otherLang: "Français",
      skip: "Skip to content", brand: "Self-service portal", logout: "Log out", login: "Log in",
      navLabel: "Main navigation", navHome: "Home", navCases: "My cases",
      navEmbed: "Demo: the assistant on another site",
      homeTitle: "Welcome to your self-service portal",
      homeLead: "Manage the printers and copiers of your contract: report a fault, follow your cases, enter your meter readings and order your supplies.",
      tileFaultTitle: "Report a fault",
      tileFaultText: "Paper jam, print quality, error message: the assistant first shows you the articles that solve the problem, then opens a case.",
      tileCasesTitle: "Follow my cases", tileCasesText: "Status, comments and history of your requests.",
      tileMetersTitle: "Meter readings", tileMetersText: "Enter your readings meter by meter before the billing date.",
      tileSuppliesTitle: "Supplies", tileSuppliesText: "Toner, staples: order what your contract covers.",
      homeAssistant: "A question? Open the assistant with the button at the bottom right of every portal page: the conversation follows you from page to page.",
      loginTitle: "Sign in", loginIntro: "Sign in to use the portal and the assistant.",
      email: "E-mail address", password: "Password", submit: "Sign in",
      demo: "Demo accounts: sntestportaldemo@outlook.com, sntestdemoportaldm@yopmail.com",
      demoPassword: "Password: see the README",
      welcomeTitle: "Hello {name}", welcomeText: "You are signed in. The assistant at the bottom right knows your account and your devices.",
      welcomeCases: "See my cases",
      roleAdmin: "Administrator", roleUser: "User",
      errMissing: "Please enter your e-mail address and password.",
      errCredentials: "Incorrect e-mail address or password.",
      errNetwork: "Cannot reach the portal. Check your connection and try again.",
      errServer: "Something went wrong. Please try again later.",
      errExpired: "Your session has expired. Please sign in again.",
      footer: "Self-service portal – demo. Your password is never stored: only the login token is kept, for as long as this tab is open.",
      casesTitle: "My cases",
      casesLead: "Your account's cases, newest first. The ones the assistant opened for you are here too.",
      casesLoading: "Loading cases…", casesEmpty: "No case yet.",
      casesLogin: "Sign in on the home page to see your cases.", casesCount: "{n} case(s).",
      colNumber: "Number", colSubject: "Subject", colDevice: "Device", colStatus: "Status", colCreated: "Created",
      intraKicker: "Intranet", intraTagline: "The in-house letter of every workshop", intraNavLabel: "Sections",
      intraNavNews: "Top story", intraNavAgenda: "Agenda", intraNavCanteen: "Canteen", intraNavPortal: "Self-service portal",
      intraHeadline: "The new copier on the second floor has arrived",
      intraByline: "By Facilities · 12 March",
      intraStory1: "Faster, quieter and two-sided by default: the second-floor copier was replaced on Monday. Badges work as before.",
      intraStory2: "A paper jam, a blinking light, toner to order? No need to look for the right form: the print portal's assistant, at the bottom right of this page, opens the case for you.",
      intraAgendaTitle: "Agenda", intraAgenda1: "Thursday: newcomers' breakfast",
      intraAgenda2: "Friday: workshop \"Print less, print better\"",
      intraCanteenTitle: "Canteen", intraCanteen: "Today: pumpkin soup, vegetable lasagne, apple tart.",
      intraNoteTitle: "About this page",
      intraNote: "Demo page: the same assistant, embedded with a single script tag in a site that has nothing to do with the portal, in another colour. It uses this tab's portal login; without it, it offers to sign in.",
      intraFooter: "Lumen & Co – demo intranet"
    }
  };
  var TITLES = { home: "titleHome", cases: "titleCases", intranet: "titleIntranet" };

  var $ = function (id) { return document.getElementById(id); };
  var page = document.body.getAttribute("data-page");

  function load(kind, key) { try { return window[kind].getItem(key); } catch (e) { return null; } }
  function store(kind, key, value) {
    try { if (value == null) window[kind].removeItem(key); else window[kind].setItem(key, value); } catch (e) { /* private mode */ }
  }

  // ---------- language: the visitor's choice, else the profile's, else the browser's ----------
  var browserLang = /^fr\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || "") ? "fr" : "en";
  var lang = browserLang;
  var user = null;
  function t(key, vars) {
    var s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ""; });
  }
  function wantedLang() {
    var chosen = load("localStorage", LANG_KEY);
    if (STRINGS[chosen]) return chosen;
    if (user && STRINGS[user.language]) return user.language;
    return browserLang;
  }
  function applyLang() {
    lang = wantedLang();
    document.documentElement.lang = lang; // the widget follows it
    document.title = t(TITLES[page] || "titleHome");
    document.querySelectorAll("[data-i18n]").forEach(function (n) { n.textContent = t(n.getAttribute("data-i18n")); });
    document.querySelectorAll("[data-i18n-aria-label]").forEach(function (n) { n.setAttribute("aria-label", t(n.getAttribute("data-i18n-aria-label"))); });
    var sw = $("lang-switch");
    if (sw) { sw.textContent = t("otherLang"); sw.lang = lang === "fr" ? "en" : "fr"; }
    if (user) renderUser();
    if (page === "cases") renderCases();
    var err = $("login-error");
    if (err && !err.hidden && err.dataset.key) showError(err.dataset.key);
  }
  if ($("lang-switch")) $("lang-switch").addEventListener("click", function () {
    store("localStorage", LANG_KEY, lang === "fr" ? "en" : "fr");
    applyLang();
    if (page === "cases" && user) loadCases(); // the labels come from the backend in the page's language
  });

  // ---------- the widget ----------
  function tellWidget(token) { if (window.PortalAssistant) window.PortalAssistant.setToken(token); }

  // ---------- account (header on every portal page, login form on the home page) ----------
  function renderUser() {
    if ($("user-name")) $("user-name").textContent = user.full_name || user.email || "";
    if ($("user-meta")) $("user-meta").textContent = (user.role === "admin" ? t("roleAdmin") : t("roleUser")) +
      (user.account && user.account.name ? " · " + user.account.name : "");
    if ($("welcome-title")) $("welcome-title").textContent = t("welcomeTitle", { name: (user.full_name || "").trim().split(/\s+/)[0] || "" });
  }
  function showSignedIn() {
    renderUser();
    toggle("user-box", true); toggle("logout", true); toggle("login-link", false);
    toggle("login-form", false); toggle("welcome-card", true);
  }
  function showSignedOut(errorKey) {
    user = null;
    toggle("user-box", false); toggle("logout", false); toggle("login-link", page !== "home");
    toggle("login-form", true); toggle("welcome-card", false);
    if ($("login-submit")) $("login-submit").disabled = false;
    if (errorKey) showError(errorKey); else clearError();
  }
  function toggle(id, shown) { var n = $(id); if (n) n.hidden = !shown; }
  function showError(key) { var e = $("login-error"); if (!e) return; e.dataset.key = key; e.textContent = t(key); e.hidden = false; }
  function clearError() { var e = $("login-error"); if (e) { e.hidden = true; e.textContent = ""; delete e.dataset.key; } }

  function api(path, token) {
    return fetch(path, { headers: { Authorization: "Bearer " + token, Accept: "application/json", "X-Display-Language": lang } });
  }

  function keepSession(data) {
    store("sessionStorage", TOKEN_KEY, data.access_token);
    store("sessionStorage", REFRESH_KEY, data.refresh_token || null);
    tellWidget(data.access_token);
    clearTimeout(refreshTimer);
    if (data.refresh_token && data.expires_in) {
      refreshTimer = setTimeout(refreshSession, Math.max(10, data.expires_in - 60) * 1000);
    }
  }
  function endSession() {
    clearTimeout(refreshTimer);
    store("sessionStorage", TOKEN_KEY, null);
    store("sessionStorage", REFRESH_KEY, null);
    tellWidget(null);
  }
  // true when a new pair was obtained
  function refreshSession() {
    var refresh = load("sessionStorage", REFRESH_KEY);
    if (!refresh) return Promise.resolve(false);
    return fetch("/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: refresh })
    }).then(function (r) {
      if (!r.ok) { endSession(); if (user) { user = null; showSignedOut("errExpired"); applyLang(); } return false; }
      return r.json().then(function (data) { keepSession(data); return true; });
    }).catch(function () { return false; });
  }

  // a page opened with a stored token: the refresh is planned from the token's own expiry
  function planRefresh(token) {
    if (refreshTimer || !load("sessionStorage", REFRESH_KEY)) return;
    try {
      var claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      refreshTimer = setTimeout(refreshSession, Math.max(10, claims.exp - Date.now() / 1000 - 60) * 1000);
    } catch (e) { /* not a JWT: the next 401 refreshes */ }
  }

  function loadMe(retried) {
    var token = load("sessionStorage", TOKEN_KEY);
    if (!token) { showSignedOut(); applyLang(); return Promise.resolve(); }
    planRefresh(token);
    return api("/users/me", token).then(function (r) {
      if (r.status === 401 && !retried) {  // the access token expired while the page was closed: refresh once
        return refreshSession().then(function (renewed) {
          if (renewed) return loadMe(true);
          endSession(); showSignedOut("errExpired"); applyLang();
        });
      }
      if (r.status === 401) { endSession(); showSignedOut("errExpired"); applyLang(); return; }
      if (!r.ok) throw "errServer";
      return r.json().then(function (me) { user = me; showSignedIn(); applyLang(); });
    }).catch(function (e) { showSignedOut(typeof e === "string" ? e : "errNetwork"); applyLang(); });
  }

  var form = $("login-form");
  if (form) form.addEventListener("submit", function (evt) {
    evt.preventDefault();
    clearError();
    var email = $("login-email").value.trim(), password = $("login-password").value;
    if (!email || !password) { showError("errMissing"); return; }
    $("login-submit").disabled = true;
    fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ username: email, password: password }).toString()
    }).then(function (r) {
      if (r.status === 400 || r.status === 401 || r.status === 403 || r.status === 422) throw "errCredentials";
      if (!r.ok) throw "errServer";
      return r.json();
    }).then(function (data) {
      if (!data || !data.access_token) throw "errServer";
      $("login-password").value = ""; // the password goes no further than this request
      keepSession(data);
      return loadMe().then(function () { var title = $("welcome-title"); if (title && user) { title.tabIndex = -1; title.focus(); } });
    }).catch(function (e) {
      $("login-submit").disabled = false;
      showError(typeof e === "string" ? e : "errNetwork");
    });
  });

  if ($("logout")) $("logout").addEventListener("click", function () {
    var token = load("sessionStorage", TOKEN_KEY);
    // the server revokes every token of the user (a copy someone else holds stops working too)
    if (token) fetch("/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + token } }).catch(function () {});
    endSession();
    showSignedOut();
    if (page === "cases") renderCases();
    var target = $("login-email") || $("login-link");
    if (target) target.focus();
  });

  // index.html#login (the widget's "log in" link): straight to the e-mail field
  function focusLogin() { if (location.hash === "#login" && $("login-email") && !$("login-form").hidden) $("login-email").focus(); }
  window.addEventListener("hashchange", focusLogin);
  window.addEventListener("load", function () { setTimeout(focusLogin, 0); }); // after the browser's own scroll to #login

  // ---------- cases page ----------
  var cases = null, casesError = null;
  function loadCases() {
    var token = load("sessionStorage", TOKEN_KEY);
    if (!token || !user) { cases = null; renderCases(); return; }
    casesError = null;
    $("cases-status").textContent = t("casesLoading");
    api("/cases?limit=50", token).then(function (r) {
      if (!r.ok) throw "errServer";
      return r.json();
    }).then(function (list) { cases = list; renderCases(); })
      .catch(function (e) { casesError = typeof e === "string" ? e : "errNetwork"; renderCases(); });
  }
  function cell(tr, text) { var td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
  function renderCases() {
    var status = $("cases-status"), body = $("cases-body");
    if (!status) return;
    body.textContent = "";
    if (!user) { status.textContent = t("casesLogin"); $("cases-wrap").hidden = true; return; }
    if (casesError) { status.textContent = t(casesError); $("cases-wrap").hidden = true; return; }
    if (!cases) { status.textContent = t("casesLoading"); return; }
    status.textContent = cases.length ? t("casesCount", { n: cases.length }) : t("casesEmpty");
    $("cases-wrap").hidden = !cases.length;
    var dates = new Intl.DateTimeFormat(lang === "fr" ? "fr-FR" : "en-GB", { dateStyle: "medium" });
    cases.forEach(function (c) {
      var tr = document.createElement("tr");
      var th = document.createElement("th"); th.scope = "row"; th.textContent = c.number; tr.appendChild(th);
      cell(tr, c.category_label + " › " + c.subcategory_label);
      cell(tr, c.asset ? (c.asset.alias || c.asset.asset_number) : "—");
      cell(tr, c.status_label);
      cell(tr, c.created_at ? dates.format(new Date(c.created_at)) : "");
      body.appendChild(tr);
    });
  }

  applyLang();
  loadMe().then(function () { focusLogin(); if (page === "cases") loadCases(); });
})();
