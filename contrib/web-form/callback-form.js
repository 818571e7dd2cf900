/* The "call me back" form: checks what the visitor typed, posts JSON to the site's own back end
   (the form's data-endpoint), and says what happened. No framework, no token in the browser.
   Each result sets data-result on the .qcb-result element: created, duplicate, refused, rate_limited,
   invalid (a check in the browser or a 400) or error. */
(function () {
  "use strict";

  var MAX_NAME = 100;

  function cleanNumber(text) {
    // The API accepts digits with an optional leading "+" and drops spaces and dashes; dots and
    // brackets people type around an area code are dropped here too.
    return text.replace(/[\s().\-]/g, "");
  }

  function withOffset(local) {
    // A datetime-local value ("2026-12-02T10:00") is the visitor's own time: send it with their offset.
    var when = new Date(local);
    if (isNaN(when.getTime())) return null;
    var minutes = -when.getTimezoneOffset();
    var sign = minutes >= 0 ? "+" : "-";
    var abs = Math.abs(minutes);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return local.length === 16 ? local + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60)
                               : local + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return "form-" + window.crypto.randomUUID();
    return "form-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function minutesOf(retryAfter) {
    var seconds = parseInt(retryAfter, 10);
    return isNaN(seconds) ? null : Math.max(1, Math.ceil(seconds / 60));
  }

  function setup(form) {
    var result = form.querySelector(".qcb-result");
    var button = form.querySelector("button[type=submit]");
    var lastBody = null;
    var lastKey = null;

    function say(kind, text) {
      result.setAttribute("data-result", kind);
      result.textContent = text;
    }

    function invalid(field, text) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
      say("invalid", text);
      return null;
    }

    function check() {
      var fields = form.elements;
      ["number", "name", "at"].forEach(function (n) { fields[n].removeAttribute("aria-invalid"); });
      var queue = (fields.queue.value || "").trim();
      if (!queue) { say("error", "This form has no queue set."); return null; }
      var number = cleanNumber(fields.number.value || "");
      if (!number) return invalid(fields.number, "Please enter your phone number.");
      if (!/^\+?[0-9]{3,20}$/.test(number)) {
        return invalid(fields.number, "A phone number has 3 to 20 digits, with an optional + in front.");
      }
      var body = { queue: queue, number: number };
      var name = (fields.name.value || "").trim();
      if (name.length > MAX_NAME) return invalid(fields.name, "The name is too long.");
      if (name) body.name = name;
      var at = fields.at.value;
      if (at) {
        var when = new Date(at);
        if (isNaN(when.getTime())) return invalid(fields.at, "Please enter a valid date and time.");
        if (when.getTime() < Date.now() - 60000) return invalid(fields.at, "Please pick a time that is not past.");
        body.at = withOffset(at);
      }
      return body;
    }

    function answer(status, data, retryAfter, body) {
      var error = (data && data.error) || {};
      if (status === 201) {
        // a time asked for may move into the queue's opening hours: say the one the API stored
        var at = body.at && (data.next_attempt_at || body.at);
        var when = at ? " at " + new Date(at).toLocaleString() : " as soon as possible";
        say("created", "Thank you! We will call you back" + when + ".");
      } else if (status === 409 && error.code === "duplicate") {
        say("duplicate", "We already have your request and will call you back soon.");
      } else if (status === 429) {
        var minutes = minutesOf(retryAfter);
        say("rate_limited", "Too many requests. Please try again" +
            (minutes ? " in " + minutes + " minute" + (minutes > 1 ? "s" : "") : " later") + ".");
      } else if (status === 422 || status === 403) {
        say("refused", "We cannot call you back: " + (error.message || "this request was refused") + ".");
      } else if (status === 400) {
        say("invalid", "Please check the form: " + (error.message || "a field is not valid") + ".");
      } else {
        say("error", "Sorry, your request could not be sent. Please try again later.");
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = check();
      if (!body) return;
      var text = JSON.stringify(body);
      if (text !== lastBody) { lastBody = text; lastKey = newKey(); } // a retry of the same form is one request
      button.disabled = true;
      say("sending", "Sending…");
      fetch(form.getAttribute("data-endpoint"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": lastKey },
        body: text,
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          answer(response.status, data, response.headers.get("Retry-After"), body);
        });
      }).catch(function () {
        say("error", "Sorry, your request could not be sent. Please check your connection and try again.");
      }).then(function () { button.disabled = false; });
    });
  }

  var forms = document.querySelectorAll("form.qcb-form");
  for (var i = 0; i < forms.length; i++) setup(forms[i]);
})();
