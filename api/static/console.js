// The console's only script: live refresh of the inbox and transcript through server-sent events, and
// canned replies filling the reply box. Everything works without it, by reloading the page.
"use strict";

function refresh(region) {
  fetch(region.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then((response) => (response.ok ? response.text() : null))
    .then((html) => {
      if (html !== null) region.innerHTML = html;
    })
    .catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  const regions = document.querySelectorAll("[data-live]");
  if (regions.length && window.EventSource) {
    const events = new EventSource("/console/events");
    events.addEventListener("ready", () => document.body.setAttribute("data-live-ready", "1"));
    events.addEventListener("inbox", () => regions.forEach(refresh));
  }
  document.querySelectorAll("select[data-fills]").forEach((select) => {
    select.addEventListener("change", () => {
      const target = document.getElementById(select.dataset.fills);
      if (target && select.value) target.value = select.value;
    });
  });
});
