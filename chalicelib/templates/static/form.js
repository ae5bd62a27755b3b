// Progressive enhancement of the registration form; no framework, no build step.
// Without this script the form posts as a plain HTML form (303 to the thank-you page).
// With it: the form posts JSON with fetch, shows the field errors of the problem+json answer
// next to their fields (aria-describedby, aria-invalid), moves focus to the first one,
// disables the button while sending, and then goes to the same thank-you page.
(function () {
  "use strict";

  var form = document.getElementById("registration-form");
  if (!form || !window.fetch || !window.JSON || !document.querySelector) {
    return;
  }
  var button = form.querySelector("button[type=submit]");
  var idleLabel = button ? button.textContent : "";
  var messages = document.getElementById("form-messages");

  // The form's fields as the JSON body: checkboxes of a boolean are true/false, those of a
  // multichoice collect their values, radios give the checked one, empty optional text is left out.
  function collect() {
    var body = {};
    var elements = form.elements;
    for (var i = 0; i < elements.length; i++) {
      var el = elements[i];
      var kind = el.getAttribute("data-kind");
      if (!el.name || el.disabled || el.tagName === "BUTTON") {
        continue;
      }
      if (el.type === "checkbox" && kind === "multichoice") {
        if (!body[el.name]) {
          body[el.name] = [];
        }
        if (el.checked) {
          body[el.name].push(el.value);
        }
      } else if (el.type === "checkbox") {
        body[el.name] = el.checked;
      } else if (el.type === "radio") {
        if (el.checked) {
          body[el.name] = el.value;
        }
      } else if (kind === "integer") {
        if (/^[0-9]+$/.test(el.value)) {
          body[el.name] = parseInt(el.value, 10);
        }
      } else if (el.value !== "" || el.required) {
        body[el.name] = el.value;
      }
    }
    return body;
  }

  function setBusy(busy) {
    if (!button) {
      return;
    }
    button.disabled = busy;
    button.textContent = busy ? button.getAttribute("data-sending") || idleLabel : idleLabel;
    if (busy) {
      form.setAttribute("aria-busy", "true");
    } else {
      form.removeAttribute("aria-busy");
    }
  }

  function clearErrors() {
    var old = form.querySelectorAll(".field-error");
    for (var i = 0; i < old.length; i++) {
      old[i].parentNode.removeChild(old[i]);
    }
    var invalid = form.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) {
      invalid[j].removeAttribute("aria-invalid");
      invalid[j].removeAttribute("aria-describedby");
      invalid[j].removeAttribute("autofocus");
    }
    if (messages) {
      messages.textContent = "";
    }
  }

  function labelOf(target) {
    var legend = target.tagName === "FIELDSET" ? target.querySelector("legend") : null;
    var label = legend || form.querySelector("label[for='" + target.id + "']");
    return label ? label.textContent.replace(/\s*\(.*\)\s*$/, "").trim() : target.name || "";
  }

  // Put the message next to its field; returns the element to focus, or null for a field not on the page.
  function showFieldError(field, message) {
    var target = document.getElementById("field-" + field);
    if (!target || !form.contains(target)) {
      return null;
    }
    var note = document.createElement("p");
    note.className = "field-error";
    note.id = "error-" + field;
    note.textContent = message;
    var container = target.tagName === "FIELDSET" ? target : target.parentNode;
    var legend = target.tagName === "FIELDSET" ? target.querySelector("legend") : null;
    if (legend) {
      legend.parentNode.insertBefore(note, legend.nextSibling);
    } else if (container.classList.contains("checkbox")) {
      container.insertBefore(note, container.firstChild);
    } else {
      container.insertBefore(note, target);
    }
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", note.id);
    var focusable = target.tagName === "FIELDSET" ? target.querySelector("input:checked") || target.querySelector("input") : target;
    return { target: target, focusable: focusable, label: labelOf(target), message: message, field: field };
  }

  function summary(items, general) {
    if (!messages) {
      return;
    }
    var box = document.createElement("div");
    box.className = "error-summary";
    box.id = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1");
    var heading = document.createElement("h2");
    heading.textContent = general || form.getAttribute("data-errors-title") || "";
    box.appendChild(heading);
    if (items.length) {
      var list = document.createElement("ul");
      items.forEach(function (item) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "#field-" + item.field;
        a.textContent = item.label + ": " + item.message;
        a.addEventListener("click", function (event) {
          event.preventDefault();
          if (item.focusable) {
            item.focusable.focus();
          }
        });
        li.appendChild(a);
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    messages.appendChild(box);
    return box;
  }

  // Bring the error summary to the top of the window with the first invalid field below it, and
  // focus that field without letting the browser scroll it to the top (which hid the summary on
  // a phone). When both do not fit, the field wins: its own message sits right above it.
  function reveal(box, field) {
    if (box && box.scrollIntoView) {
      box.scrollIntoView({ block: "start" });
    }
    if (!field) {
      return;
    }
    field.focus({ preventScroll: true });
    var rect = field.getBoundingClientRect();
    if (rect.bottom > window.innerHeight || rect.top < 0) {
      field.scrollIntoView({ block: "nearest" });
    }
  }

  function showProblem(status, problem) {
    var errors = (problem && problem.errors) || [];
    // Sent sooner than the minimum fill time: the person has filled the form in now, so the
    // next click is not judged by time again (the start time is left out of the body).
    var started = form.querySelector("input[name=form_started_at]");
    if (started && errors.some(function (error) { return error.field === "form_started_at"; })) {
      started.value = "";
    }
    if (status === 409 && problem && problem.type === "/problems/already-registered") {
      errors = [{ field: "email", message: problem.detail }];
    }
    var shown = [];
    var unplaced = [];
    errors.forEach(function (error) {
      var item = showFieldError(error.field, error.message);
      if (item) {
        shown.push(item);
      } else {
        unplaced.push(error.message);
      }
    });
    // Page order, so focus goes to the first invalid field a person meets.
    shown.sort(function (a, b) {
      return a.target.compareDocumentPosition(b.target) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    if (shown.length) {
      reveal(summary(shown), shown[0].focusable);
      return;
    }
    var text = unplaced.join(" ") || (problem && problem.detail) || form.getAttribute("data-failed");
    var box = summary([], text);
    if (box) {
      box.focus({ preventScroll: true });
      reveal(box, null);
    }
  }

  // The thank-you page of this registration: the answer's thanks_url (a short-lived signed
  // reference, no personal data), else the page without one.
  function thanksUrl(data) {
    if (data.thanks_url) {
      return data.thanks_url;
    }
    var url = new URL("thanks", form.action);
    url.search = "?lang=" + encodeURIComponent(form.getAttribute("data-lang") || "");
    return url.toString();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button && button.disabled) {
      return;
    }
    clearErrors();
    setBusy(true);
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, application/problem+json" },
      body: JSON.stringify(collect()),
      credentials: "same-origin",
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (response.status === 201 && data) {
              window.location.assign(thanksUrl(data));
              return;
            }
            setBusy(false);
            showProblem(response.status, data);
          });
      })
      .catch(function () {
        setBusy(false);
        var box = summary([], form.getAttribute("data-network"));
        if (box) {
          box.focus();
        }
      });
  });
})();
