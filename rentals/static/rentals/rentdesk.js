// Every Rentdesk page (admin/base_site.html). No script lives in the pages themselves: the
// Content-Security-Policy runs scripts from this site only.

// Times are shown in the browser's own timezone: tell the server which one it is (at once, in <head>).
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_\/+-]+$/.test(zone) && document.cookie.indexOf("rentdesk_tz=" + zone) === -1) {
      document.cookie = "rentdesk_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (error) { /* an old browser: the server's timezone it is */ }
})();

document.addEventListener("DOMContentLoaded", function () {
  // The language menu in the header applies a choice at once.
  var languages = document.getElementById("language-form");
  if (languages) {
    languages.language.addEventListener("change", function () { languages.submit(); });
  }
  // A form that spends or changes something is sent once, however often its button is pressed.
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function () { form.querySelector("[type=submit]").disabled = true; });
  });
  // A menu that asks the server again at once (the extension's period and its price); the form it
  // names is held meanwhile, so a price that is no longer on screen cannot be confirmed.
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (menu) {
    menu.addEventListener("change", function () {
      var held = document.getElementById(menu.getAttribute("data-submit-on-change"));
      if (held) { held.querySelector("[type=submit]").disabled = true; }
      menu.form.submit();
    });
  });
  document.querySelectorAll("a[data-back]").forEach(function (link) {
    link.addEventListener("click", function (event) { event.preventDefault(); history.back(); });
  });
  document.querySelectorAll("input[data-select-on-focus]").forEach(function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
});
