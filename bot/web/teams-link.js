/* The page a Teams user's sign-in card opens (/chat/teams-link.html#code=…), plain JS, no build step.
 * The code is in the fragment (never sent to a server nor written in its logs) and removed from the address bar at
 * once. The user signs in (or uses the portal login of this tab), the page claims the code (POST /teams/links) and
 * shows the six-digit number to type in Teams: only then are the accounts linked. Nothing else is stored. */
(function () {
  "use strict";

  var TOKEN_KEY = "mps_chat_token"; // the portal login of this tab (demo.js, password.js)
  var STRINGS = {
    fr: {
      pageTitle: "Relier Microsoft Teams – libre-service", title: "Portail libre-service",
      heading: "Relier Microsoft Teams à mon compte",
      intro: "Connectez-vous au portail : cette page vous donne ensuite un numéro à taper dans votre conversation Teams avec l'assistant.",
      email: "Adresse e-mail", password: "Mot de passe", submit: "Relier mon compte",
      who: "Connecté(e) en tant que {name}.",
      errNoCode: "Ce lien est incomplet. Écrivez à l'assistant dans Teams pour en recevoir un nouveau.",
      errMissing: "Veuillez saisir votre adresse e-mail et votre mot de passe.",
      errLogin: "Adresse e-mail ou mot de passe incorrect.",
      errNetwork: "Impossible de joindre le portail. Vérifiez votre connexion et réessayez.",
      errServer: "Une erreur est survenue. Veuillez réessayer plus tard.",
      done: "Dernière étape : tapez ce numéro dans votre conversation Teams avec l'assistant (il expire dans quelques minutes) :"
    },
    en: {
      pageTitle: "Link Microsoft Teams – self-service", title: "Self-service portal",
      heading: "Link Microsoft Teams to my account",
      intro: "Sign in to the portal: this page then gives you a number to type in your Teams chat with the assistant.",
      email: "E-mail address", password: "Password", submit: "Link my account",
      who: "Signed in as {name}.",
      errNoCode: "This link is incomplete. Write to the assistant in Teams to get a new one.",
      errMissing: "Please enter your e-mail address and password.",
      errLogin: "Incorrect e-mail address or password.",
      errNetwork: "Cannot reach the portal. Check your connection and try again.",
      errServer: "Something went wrong. Please try again later.",
      done: "Last step: type this number in your Teams chat with the assistant (it expires in a few minutes):"
    }
  };

  var $ = function (id) { return document.getElementById(id); };
  function load(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function store(key, value) {
    try { if (value == null) sessionStorage.removeItem(key); else sessionStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var code = params.get("code");
  var asked = params.get("lang");
  var browserLang = /^fr\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || "") ? "fr" : "en";
  var lang = STRINGS[asked] ? asked : browserLang;
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  function t(key, vars) {
    return STRINGS[lang][key].replace(/\{(\w+)\}/g, function (_, name) { return (vars || {})[name] || ""; });
  }
  function translate() {
    document.documentElement.lang = lang;
    document.title = t("pageTitle");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
  }
  function show(node, text) { node.textContent = text; node.hidden = !text; }
  function fail(key) { show($("tl-error"), t(key)); $("tl-submit").disabled = false; }

  function api(method, path, body, token, form) {
    var headers = { "Accept-Language": lang };
    if (token) headers.Authorization = "Bearer " + token;
    if (form) headers["Content-Type"] = "application/x-www-form-urlencoded";
    else if (body) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: form ? form : (body ? JSON.stringify(body) : undefined) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { status: response.status, data: data };
        });
      });
  }

  function signedIn(token) {
    return api("GET", "/users/me", null, token).then(function (answer) {
      if (answer.status !== 200) { store(TOKEN_KEY, null); return false; }
      lang = STRINGS[answer.data.language] && !asked ? answer.data.language : lang;
      translate();
      $("login-rows").hidden = true;
      show($("tl-who"), t("who", { name: answer.data.full_name }));
      return true;
    });
  }

  function claim(token) {
    return api("POST", "/teams/links", { code: code }, token).then(function (answer) {
      if (answer.status === 202) {
        $("tl-done-text").textContent = t("done");
        $("tl-number").textContent = answer.data.confirmation_number;
        $("tl-success").hidden = false;
        $("tl-submit").hidden = true;
        $("tl-number").setAttribute("tabindex", "-1"); // focus moves to the number for screen readers
        $("tl-number").focus();
      } else if (answer.data && answer.data.message) {
        show($("tl-error"), answer.data.message);
        $("tl-submit").disabled = false;
      } else {
        fail("errServer");
      }
    });
  }

  translate();
  if (!code) { fail("errNoCode"); $("tl-submit").disabled = true; }
  var existing = load(TOKEN_KEY);
  if (existing && code) signedIn(existing).catch(function () { /* the form stays */ });

  $("tl-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!code) return;
    show($("tl-error"), "");
    $("tl-submit").disabled = true;
    var token = load(TOKEN_KEY);
    var ready = token && $("login-rows").hidden ? Promise.resolve(token) : (function () {
      var email = $("tl-email").value.trim(), password = $("tl-password").value;
      if (!email || !password) { fail("errMissing"); return Promise.resolve(null); }
      var form = new URLSearchParams({ username: email, password: password }).toString();
      return api("POST", "/auth/token", null, null, form).then(function (answer) {
        $("tl-password").value = "";
        if (answer.status !== 200) { fail("errLogin"); return null; }
        store(TOKEN_KEY, answer.data.access_token);
        return signedIn(answer.data.access_token).then(function () { return answer.data.access_token; });
      });
    })();
    ready.then(function (validToken) { if (validToken) return claim(validToken); })
      .catch(function () { fail("errNetwork"); });
  });
})();
