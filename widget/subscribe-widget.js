/*
 * Contacts API subscribe widget: one file, no dependencies, no build step.
 *
 *   <script src="https://<widget-host>/subscribe-widget.js" data-group="grp_..." async></script>
 *
 * Configuration comes from data attributes on this script tag (see widget/README.md).
 * The form lives in an open shadow root with its own styles, so the host page's CSS
 * cannot break it while tests, password managers and assistive tools can still reach it.
 * It posts with Content-Type text/plain: a CORS "simple request", so no preflight.
 */
(function () {
  "use strict";

  // Replaced with the API's origin when the file is uploaded for a stage (see widget/README.md).
  var CONFIGURED_API_ORIGIN = "__CONTACTS_API_ORIGIN__";

  var THEMES = {
    light: { bg: "#ffffff", fg: "#1f2937", muted: "#6b7280", border: "#d1d5db", accent: "#2563eb", accentFg: "#ffffff", error: "#b91c1c" },
    dark: { bg: "#111827", fg: "#f9fafb", muted: "#9ca3af", border: "#374151", accent: "#60a5fa", accentFg: "#111827", error: "#fca5a5" }
  };

  // Shared by every copy of this script on the page, so that each form's ids stay unique.
  window.__contactsWidgetCount = window.__contactsWidgetCount || 0;

  function attr(script, name, fallback) {
    var value = script.getAttribute("data-" + name);
    return value === null || value === "" ? fallback : value;
  }

  function isTrue(value) {
    return value !== null && value !== undefined && value !== "false" && value !== "0" && value !== "no";
  }

  function apiOrigin(script) {
    var explicit = attr(script, "api", null);
    if (explicit) return explicit.replace(/\/+$/, "");
    if (CONFIGURED_API_ORIGIN.indexOf("__") !== 0) return CONFIGURED_API_ORIGIN.replace(/\/+$/, "");
    return new URL(script.src, document.baseURI).origin;
  }

  function styles(theme) {
    var t = THEMES[theme] || THEMES.light;
    return [
      // !important inside a shadow root beats the host page's !important on the host element.
      ":host { all: initial !important; display: block !important; }",
      ".box { box-sizing: border-box; font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;",
      "  color: " + t.fg + "; background: " + t.bg + "; border: 1px solid " + t.border + "; border-radius: 8px;",
      "  padding: 16px; max-width: 420px; }",
      "form { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; }",
      ".field { display: flex; flex-direction: column; flex: 1 1 180px; gap: 4px; }",
      "label { font-size: 13px; color: " + t.muted + "; }",
      "input { box-sizing: border-box; font: inherit; color: " + t.fg + "; background: " + t.bg + ";",
      "  border: 1px solid " + t.border + "; border-radius: 6px; padding: 8px 10px; width: 100%; }",
      "input:focus-visible, button:focus-visible { outline: 2px solid " + t.accent + "; outline-offset: 2px; }",
      "button { font: inherit; font-weight: 600; color: " + t.accentFg + "; background: " + t.accent + ";",
      "  border: 0; border-radius: 6px; padding: 8px 16px; cursor: pointer; align-self: flex-end; }",
      "button[disabled] { opacity: 0.6; cursor: progress; }",
      ".message { flex-basis: 100%; min-height: 1.4em; margin: 0; font-size: 14px; color: " + t.error + "; }",
      ".done { display: flex; align-items: center; gap: 10px; margin: 0; }",
      ".check { font-size: 22px; color: " + t.accent + "; }",
      ".trap { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden; }"
    ].join("\n");
  }

  function element(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") node.textContent = props[key];
      else node.setAttribute(key, props[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function mountPoint(script) {
    var selector = attr(script, "mount", null);
    if (selector) {
      var target = document.querySelector(selector);
      if (target) return target;
      console.error("[subscribe-widget] data-mount matches nothing: " + selector);
      return null;
    }
    var div = document.createElement("div");
    script.parentNode.insertBefore(div, script.nextSibling);
    return div;
  }

  function errorMessage(answer, body) {
    var error = body && body.error;
    if (error && error.details && error.details.length && error.details[0].message) return error.details[0].message;
    if (error && error.message) return error.message;
    if (answer.status === 429) return "Too many attempts. Please wait a minute and try again.";
    return "Something went wrong. Please try again.";
  }

  function render(script) {
    var group = attr(script, "group", null);
    if (!group) {
      console.error("[subscribe-widget] data-group is required");
      return;
    }
    var host = mountPoint(script);
    if (!host) return;
    var id = "fli-" + (++window.__contactsWidgetCount);
    var config = {
      group: group,
      api: apiOrigin(script),
      theme: attr(script, "theme", "light") === "dark" ? "dark" : "light",
      showName: isTrue(script.getAttribute("data-show-name")),
      buttonText: attr(script, "button-text", "Subscribe"),
      successMessage: attr(script, "success-message", "Thanks for subscribing!"),
      emailPlaceholder: attr(script, "email-placeholder", "your@email.com"),
      namePlaceholder: attr(script, "name-placeholder", "Your name"),
      formType: attr(script, "form-type", "embed")
    };

    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    root.appendChild(element("style", { text: styles(config.theme) }));

    var email = element("input", {
      id: id + "-email", name: "email", type: "email", required: "required",
      autocomplete: "email", placeholder: config.emailPlaceholder
    });
    var name = element("input", {
      id: id + "-name", name: "name", type: "text", autocomplete: "name", placeholder: config.namePlaceholder
    });
    // Honeypot: people never see or reach it; bots that fill every field do.
    var trap = element("input", { id: id + "-website", name: "website", type: "text", tabindex: "-1", autocomplete: "off" });
    var button = element("button", { type: "submit", text: config.buttonText });
    var message = element("p", { class: "message", role: "status", "aria-live": "polite" });

    var fields = [];
    if (config.showName) {
      fields.push(element("div", { class: "field" }, [element("label", { for: id + "-name", text: "Name" }), name]));
    }
    fields.push(element("div", { class: "field" }, [element("label", { for: id + "-email", text: "Email" }), email]));
    fields.push(element("div", { class: "trap", "aria-hidden": "true" }, [
      element("label", { for: id + "-website", text: "Leave this field empty" }), trap
    ]));
    fields.push(button, message);

    var form = element("form", { novalidate: "novalidate", "aria-label": "Newsletter signup" }, fields);
    var box = element("div", { class: "box", "data-theme": config.theme }, [form]);
    root.appendChild(box);

    function fail(text) {
      message.textContent = text;
      email.setAttribute("aria-invalid", "true");
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }

    function succeed() {
      var done = element("p", { class: "done", role: "status", "aria-live": "polite" }, [
        element("span", { class: "check", "aria-hidden": "true", text: "\u2713" }),
        element("span", { class: "success", text: config.successMessage })
      ]);
      box.replaceChild(done, form);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) return;
      var address = email.value.trim();
      if (!address || address.indexOf("@") < 1) {
        fail("Please enter a valid email address.");
        email.focus();
        return;
      }
      message.textContent = "";
      email.removeAttribute("aria-invalid");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      var payload = {
        group: config.group, email: address, name: config.showName ? name.value.trim() : "",
        formType: config.formType, website: trap.value
      };
      fetch(config.api + "/api/subscribe", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify(payload)
      }).then(function (answer) {
        return answer.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (ignored) { body = null; }
          if (answer.ok) succeed();
          else fail(errorMessage(answer, body));
        });
      }).catch(function () {
        fail("Could not reach the server. Please try again.");
      });
    });
  }

  var current = document.currentScript;
  if (current && current.getAttribute("data-mount") && document.readyState === "loading") {
    // The mount target may come later in the page than this script.
    document.addEventListener("DOMContentLoaded", function () { render(current); });
  } else if (current) {
    render(current);
  } else {
    console.error("[subscribe-widget] load it with a plain <script> tag so it can read its data attributes");
  }
})();
