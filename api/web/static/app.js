// InsureFlow console: the one script. A decision or a cancellation waits for the process
// to answer (a second or two); a form marked data-once is sent once, however often its
// button is pressed meanwhile. The pages work without it.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
  if (form.dataset.sent === "yes") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "yes";
  // Not `disabled`: the pressed button's name and value must still be sent.
  for (const button of form.querySelectorAll("button")) {
    button.setAttribute("aria-busy", "true");
  }
});

// Back to a page the browser kept in memory: its forms may be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-once]")) {
    delete form.dataset.sent;
    for (const button of form.querySelectorAll("button")) button.removeAttribute("aria-busy");
  }
});
