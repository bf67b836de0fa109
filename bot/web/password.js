/* The secure "change my password" page (/account/password), plain JS, no build step.
 * The assistant never asks for a password in the chat: it links here. The passwords go straight from this page
 * to the backend (POST /users/me/password, bearer token of the chat's login, kept in sessionStorage by chat.js).
 * Without that token (e.g. the link opened in a new tab) the user also gives their e-mail: the page logs in with
 * it and the current password (POST /auth/token), then changes the password. Nothing is stored. */
(function () {
  "use strict";

  var TOKEN_KEY = "mps_chat_token"; // the same key as chat.js
  var form = document.getElementById("pw-form");
  var MIN = form.dataset.minLength || "10";

  var STRINGS = {
    fr: {
      pageTitle: "Changer mon mot de passe – libre-service", title: "Portail libre-service",
      heading: "Changer mon mot de passe",
      intro: "Cette page sécurisée envoie votre mot de passe directement au portail : l'assistant ne le voit jamais.",
      email: "Adresse e-mail", current: "Mot de passe actuel", "new": "Nouveau mot de passe",
      confirm: "Confirmez le nouveau mot de passe",
      policy: "Au moins {min} caractères, avec au moins une lettre et un chiffre, sans reprendre votre adresse e-mail.",
      submit: "Changer le mot de passe", back: "Retour à l'assistant",
      errMissing: "Veuillez remplir tous les champs.",
      errMismatch: "Les deux nouveaux mots de passe ne sont pas identiques.",
      errLogin: "Adresse e-mail ou mot de passe actuel incorrect.",
      errExpired: "Votre session a expiré : indiquez aussi votre adresse e-mail.",
      errNetwork: "Impossible de joindre le portail. Vérifiez votre connexion et réessayez.",
      errServer: "Une erreur est survenue. Veuillez réessayer plus tard.",
      done: "C'est fait : votre mot de passe a été changé. Utilisez-le à votre prochaine connexion."
    },
    en: {
      pageTitle: "Change my password – self-service", title: "Self-service portal",
      heading: "Change my password",
      intro: "This secure page sends your password straight to the portal: the assistant never sees it.",
      email: "E-mail address", current: "Current password", "new": "New password",
      confirm: "Confirm the new password",
      policy: "At least {min} characters, with at least one letter and one digit, not containing your e-mail address.",
      submit: "Change password", back: "Back to the assistant",
      errMissing: "Please fill in every field.",
      errMismatch: "The two new passwords are not the same.",
      errLogin: "Incorrect e-mail address or current password.",
      errExpired: "Your session has expired: please also give your e-mail address.",
      errNetwork: "Cannot reach the portal. Check your connection and try again.",
      errServer: "Something went wrong. Please try again later.",
      done: "Done: your password has been changed. Use it the next time you sign in."
    }
  };

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    emailRow: $("email-row"), email: $("pw-email"), current: $("pw-current"), fresh: $("pw-new"),
    confirm: $("pw-confirm"), error: $("pw-error"), success: $("pw-success"), submit: $("pw-submit")
  };

  function load(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function drop(key) { try { sessionStorage.removeItem(key); } catch (e) { /* private mode */ } }

  var params = new URLSearchParams(window.location.search);
  var browserLang = /^fr\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || "") ? "fr" : "en";
  var asked = params.get("lang");
  var lang = STRINGS[asked] ? asked : browserLang;
  var token = load(TOKEN_KEY);

  function t(key) { return (STRINGS[lang][key] || STRINGS.en[key] || key).replace("{min}", MIN); }
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

  function changePassword(bearer, current, fresh) {
    return fetch("/users/me/password", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": lang,
                 Authorization: "Bearer " + bearer },
      body: JSON.stringify({ current_password: current, new_password: fresh })
    }).then(function (r) {
      if (r.status === 204 || r.ok) return;
      if (r.status === 401) { drop(TOKEN_KEY); needEmail(); throw { userMessage: t("errExpired") }; }
      // the backend's own words: wrong current password, password policy, role not allowed, ...
      return backendMessage(r, "errServer").then(function (message) { throw { userMessage: message }; });
    });
  }

  function submit(evt) {
    evt.preventDefault();
    clear();
    var email = el.email.value.trim(), current = el.current.value, fresh = el.fresh.value, again = el.confirm.value;
    if (!current || !fresh || !again || (!token && !email)) { showError(t("errMissing")); return; }
    if (fresh !== again) { showError(t("errMismatch")); el.confirm.focus(); return; }
    el.submit.disabled = true;
    var bearer = token ? Promise.resolve(token) : login(email, current);
    bearer.then(function (b) { return changePassword(b, current, fresh); })
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
    // no language in the link: the profile's
    fetch("/users/me", { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { drop(TOKEN_KEY); needEmail(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (me) { if (me && me.language) setLang(me.language); })
      .catch(function () { /* keep the browser's language */ });
  }
})();
