// Login page: a link of the form /dashboard/login#token=... (the demo prints
// one) logs in at once. The fragment never reaches the server or its logs,
// and is removed from the address bar before the form is posted.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var m = /^#token=([^&]+)$/.exec(location.hash);
  if (!m || document.getElementById("error")) {
    if (m) history.replaceState(null, "", location.pathname);
    return;
  }
  history.replaceState(null, "", location.pathname);
  document.getElementById("token").value = decodeURIComponent(m[1]);
  document.getElementById("login").submit();
});
