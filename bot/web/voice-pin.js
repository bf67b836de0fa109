/* The secure "my voice PIN" page (/account/voice-pin), plain JS, no build step, like password.js.
 * The 6-digit PIN identifies the user when they call the phone assistant. It goes straight from this page to the
 * backend (PUT /users/me/voice-pin with the current password, bearer token of the chat's login kept in
 * sessionStorage by chat.js); without that token the user also gives their e-mail and the page logs in first
 * (POST /auth/token). The backend refuses trivial PINs with its own message. Nothing is stored. */
(function () {
  "use strict";

  var TOKEN_KEY = "mps_chat_token"; // the same key as chat.js
  var form = document.getElementById("pin-form");
  var PIN = /^[0-9]{6}$/;

  var STRINGS = {
    fr: {
      pageTitle: "Mon code vocal – libre-service", title: "Portail libre-service",
      heading: "Mon code vocal pour l'assistant téléphonique",
      intro: "Ce code à 6 chiffres vous identifie quand vous appelez l'assistant : tapez-le sur le clavier du téléphone. Cette page l'envoie directement au portail, qui le garde chiffré ; l'assistant ne le voit jamais.",
      email: "Adresse e-mail", current: "Mot de passe actuel", "new": "Nouveau code vocal (6 chiffres)",
      confirm: "Confirmez le code vocal",
      policy: "6 chiffres, pas une suite (123456), pas un chiffre répété (000000), pas tiré de votre numéro de téléphone.",
      submit: "Enregistrer le code vocal", back: "Retour à l'assistant",
      errMissing: "Veuillez remplir tous les champs.",
      errFormat: "Le code vocal doit comporter exactement 6 chiffres.",
      errMismatch: "Les deux codes ne sont pas identiques.",
      errLogin: "Adresse e-mail ou mot de passe actuel incorrect.",
      errExpired: "Votre session a expiré : indiquez aussi votre adresse e-mail.",
      errNetwork: "Impossible de joindre le portail. Vérifiez votre connexion et réessayez.",
      errServer: "Une erreur est survenue. Veuillez réessayer plus tard.",
      done: "C'est fait : votre code vocal est enregistré. Utilisez-le à votre prochain appel."
    },
    en: {
      pageTitle: "My voice PIN – self-service", title: "Self-service portal",
      heading: "My voice PIN for the phone assistant",
      intro: "This 6-digit PIN identifies you when you call the assistant: type it on the phone's keypad. This page sends it straight to the portal, which keeps it encrypted; the assistant never sees it.",
      email: "E-mail address", current: "Current password", "new": "New voice PIN (6 digits)",
      confirm: "Confirm the voice PIN",
      policy: "6 digits, not a run (123456), not one digit repeated (000000), not taken from your phone number.",
      submit: "Save the voice PIN", back: "Back to the assistant",
      errMissing: "Please fill in every field.",
      errFormat: "The voice PIN must be exactly 6 digits.",
      errMismatch: "The two PINs are not the same.",
      errLogin: "Incorrect e-mail address or current password.",
      errExpired: "Your session has expired: please also give your e-mail address.",
      errNetwork: "Cannot reach the portal. Check your connection and try again.",
      errServer: "Something went wrong. Please try again later.",
      done: "Done: your voice PIN is saved. Use it the next time you call."
    }
  };

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    emailRow: $("email-row"), email: $("pin-email"), current: $("pin-current"), fresh: $("pin-new"),
    confirm: $("pin-confirm"), error: $("pin-error"), success: $("pin-success"), submit: $("pin-submit")
  };

  function load(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function drop(key) { try { sessionStorage.removeItem(key); } catch (e) { /* private mode */ } }

  var params = new URLSearchParams(window.location.search);
  var browserLang = /^fr\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || "") ? "fr" : "en";
  var asked = params.get("lang");
  var lang = STRINGS[asked] ? asked : browserLang;
  var token = load(TOKEN_KEY);

  function t(key) { return STRINGS[lang][key] || STRINGS.en[key] || key; }
  function setLang(l) {
    lang = STRINGS[l] ? l : lang;
    document.documentElement.lang = lang;
    document.title = t("pageTitle");
    document.querySelectorAll("[data-i18n]").forEach(function (n) { n.textContent = t(n.dataset.i18n); });
  }
  function showError(text) { el.success.hidden = true; el.error.textContent = text; el.error.hidden = false; }
  function showDone() { el.error.hidden = true; el.success.textContent = t("done"); el.success.hidden = false; }
  function clear() { el.error.hidden = true; el.success.hidden = true; }
  function needEmail() { token = null; el.emailRow.hidden = false; el.email.required = true; }

  function backendMessage(response, fallbackKey) {
    return response.json().then(function (body) { return (body && body.message) || t(fallbackKey); },
                                function () { return t(fallbackKey); });
  }

  function login(email, password) {
    return fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", "Accept-Language": lang },
      body: new URLSearchParams({ username: email, password: password }).toString()
    }).then(function (r) {
      if (r.status === 400 || r.status === 401 || r.status === 403) throw { userMessage: t("errLogin") };
      if (!r.ok) throw { userMessage: t("errServer") };
      return r.json();
    }).then(function (data) {
      if (!data || !data.access_token) throw { userMessage: t("errServer") };
      return data.access_token;
    });
  }

  function savePin(bearer, current, pin) {
    return fetch("/users/me/voice-pin", {
      method: "PUT",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": lang,
                 "X-Display-Language": lang, Authorization: "Bearer " + bearer },
      body: JSON.stringify({ current_password: current, pin: pin })
    }).then(function (r) {
      if (r.status === 204 || r.ok) return;
      if (r.status === 401) { drop(TOKEN_KEY); needEmail(); throw { userMessage: t("errExpired") }; }
      // the backend's own words: wrong current password, a PIN too easy to guess, ...
      return backendMessage(r, "errServer").then(function (message) { throw { userMessage: message }; });
    });
  }

  function submit(evt) {
    evt.preventDefault();
    clear();
    var email = el.email.value.trim(), current = el.current.value, pin = el.fresh.value.trim(), again = el.confirm.value.trim();
    if (!current || !pin || !again || (!token && !email)) { showError(t("errMissing")); return; }
    if (!PIN.test(pin)) { showError(t("errFormat")); el.fresh.focus(); return; }
    if (pin !== again) { showError(t("errMismatch")); el.confirm.focus(); return; }
    el.submit.disabled = true;
    var bearer = token ? Promise.resolve(token) : login(email, current);
    bearer.then(function (b) { return savePin(b, current, pin); })
      .then(function () {
        el.current.value = ""; el.fresh.value = ""; el.confirm.value = "";
        showDone();
      })
      .catch(function (e) { showError(e && e.userMessage ? e.userMessage : t("errNetwork")); })
      .then(function () { el.submit.disabled = false; });
  }

  form.addEventListener("submit", submit);
  setLang(lang);
  if (!token) {
    needEmail();
  } else if (!STRINGS[asked]) {
    fetch("/users/me", { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { drop(TOKEN_KEY); needEmail(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (me) { if (me && me.language) setLang(me.language); })
      .catch(function () { /* keep the browser's language */ });
  }
})();
