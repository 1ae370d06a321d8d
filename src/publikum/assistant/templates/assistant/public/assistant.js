{% autoescape off %}/* Publikum assistant widget: one <script> tag, no third-party requests.
 * <script src="https://…/{{ org }}/assistant.js" defer></script>
 * data-mode="embedded" data-target="<element id>" shows it always open inside that element.
 * It talks to the server the script came from (any site may embed it; the API answers CORS
 * and needs no cookies). The widget lives in a shadow root, so the host page's CSS and its
 * own do not mix. Every text is set with textContent: visitor and staff text is never
 * parsed as HTML. */
(function () {
  "use strict";
  var CONFIG = {{ config }};
  var script = document.currentScript;
  if (!script || !CONFIG.enabled) { return; }
  var flag = "__publikumAssistant_" + CONFIG.org;
  if (window[flag]) { return; }
  window[flag] = true;

  // The API lives on the server that served this script, whatever site embeds it (the
  // script's own address works behind proxies and in caches shared by many sites).
  var api = new URL(CONFIG.api, new URL(script.src, window.location.href)).href;
  var embedded = script.getAttribute("data-mode") === "embedded";
  var lang = (document.documentElement.getAttribute("lang") || CONFIG.language || "de").slice(0, 2).toLowerCase();
  if (!CONFIG.strings[lang]) { lang = CONFIG.strings[CONFIG.language] ? CONFIG.language : "de"; }
  var T = CONFIG.strings[lang];
  var storeKey = "publikum-assistant:" + CONFIG.org;
  var state = load();
  var busy = false;
  var pollTimer = null;
  var shown = {};

  function load() {
    try {
      var raw = window.sessionStorage.getItem(storeKey);
      var data = raw ? JSON.parse(raw) : null;
      if (data && typeof data.conversation === "string") { return data; }
    } catch (e) { /* storage blocked: the conversation lasts as long as the page */ }
    return { conversation: null, last: 0, open: false };
  }
  function save() {
    try { window.sessionStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // <publikum-assistant> holds the widget in a shadow root: the host page's rules (for
  // button, p, h2, div ...) do not reach inside, and the widget's rules stay inside.
  var host = document.createElement("publikum-assistant");
  host.setAttribute("data-publikum-assistant", CONFIG.org);
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = el("style");
  style.textContent = CONFIG.css;
  (host.attachShadow ? shadow : document.head).appendChild(style);

  var uid = "pka-" + Math.random().toString(36).slice(2, 8);
  var root = el("div", "pka-root" + (embedded ? " pka-embedded" : ""));
  shadow.appendChild(root);
  var panel = el("div", "pka-panel");
  panel.id = uid + "-panel";
  panel.setAttribute("role", embedded ? "region" : "dialog");
  panel.setAttribute("aria-labelledby", uid + "-title");
  var header = el("div", "pka-header");
  var title = el("h2", "pka-title", T.title);
  title.id = uid + "-title";
  header.appendChild(title);
  var closeButton = null;
  if (!embedded) {
    closeButton = el("button", "pka-close");
    closeButton.type = "button";
    closeButton.setAttribute("aria-label", T.close);
    closeButton.textContent = "\u00d7";
    header.appendChild(closeButton);
  }
  var log = el("div", "pka-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", T.log);
  log.tabIndex = 0;
  var options = el("div", "pka-options");
  var form = el("form", "pka-form");
  form.noValidate = true;
  var label = el("label", "pka-sr", T.label);
  label.htmlFor = uid + "-input";
  var input = el("textarea", "pka-input");
  input.id = uid + "-input";
  input.rows = 2;
  input.maxLength = CONFIG.max_length;
  input.setAttribute("autocomplete", "off");
  input.placeholder = T.placeholder;
  var sendButton = el("button", "pka-send", T.send);
  sendButton.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendButton);
  var hint = el("p", "pka-hint", T.hint);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(options);
  panel.appendChild(form);
  panel.appendChild(hint);

  var launcher = null;
  if (!embedded) {
    launcher = el("button", "pka-launcher", T.open);
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", panel.id);
    panel.hidden = true;
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(host);
  } else {
    var target = document.getElementById(script.getAttribute("data-target") || "");
    root.appendChild(panel);
    (target || document.body).appendChild(host);
  }

  function add(author, text, id) {
    if (id) {
      if (shown[id]) { return; }
      shown[id] = true;
    }
    var item = el("div", "pka-msg pka-" + author);
    item.appendChild(el("span", "pka-sr", (T.who[author] || T.who.system) + ": "));
    item.appendChild(el("p", "pka-text", text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }
  function clearOptions() {
    while (options.firstChild) { options.removeChild(options.firstChild); }
  }
  function showOptions(list) {
    clearOptions();
    (list || []).slice(0, 8).forEach(function (option) {
      var button = el("button", "pka-option", option.label);
      button.type = "button";
      button.addEventListener("click", function () { send(option.text); });
      options.appendChild(button);
    });
  }
  function request(method, path, body) {
    return window.fetch(api + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json", "Accept": "application/json" } : { "Accept": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }
  function problem(result) {
    if (result.status === 429) { return T.too_many; }
    if (result.status === 409) { return T.busy; }
    if (result.status === 422 || result.status === 400 || result.status === 413) { return T.invalid; }
    return T.error;
  }
  var queue = [];
  function send(text) {
    text = (text || "").trim();
    if (!text) { return; }
    clearOptions();
    add("visitor", text);
    input.value = "";
    // Messages typed while the previous one is answered go out in order afterwards.
    if (busy) { queue.push(text); return; }
    deliver(text);
  }
  function deliver(text) {
    busy = true;
    request("POST", "messages", { conversation: state.conversation, text: text }).then(function (result) {
      if (!result.ok) {
        if (result.status === 404 && state.conversation) {
          state = { conversation: null, last: 0, open: true };
          save();
        }
        add("system", problem(result));
        return;
      }
      var data = result.data;
      state.conversation = data.conversation;
      save();
      // The poll cursor stays where it was: a staff reply stored between two polls has a
      // lower id than this reply and must still be fetched. This request's own messages
      // are marked shown so the next poll skips them.
      (data.message_ids || []).forEach(function (id) { shown[id] = true; });
      add("assistant", data.reply.text);
      showOptions(data.options);
      startPolling();
    }, function () {
      add("system", T.offline);
    }).then(function () {
      busy = false;
      if (queue.length) { deliver(queue.shift()); }
    });
  }
  function poll(all) {
    if (!state.conversation || busy) { return; }
    request("GET", "conversations/" + encodeURIComponent(state.conversation) + "?after=" + (all ? 0 : (state.last || 0))).then(function (result) {
      if (!result.ok) {
        if (result.status === 404) { state = { conversation: null, last: 0, open: isOpen() }; save(); stopPolling(); }
        return;
      }
      (result.data.messages || []).forEach(function (message) {
        if (all || message.author === "staff" || message.author === "system") {
          add(message.author, message.text, message.id);
        }
        state.last = Math.max(state.last || 0, message.id);
      });
      save();
    }, function () { /* offline: try again at the next tick */ });
  }
  function startPolling() {
    if (!pollTimer && state.conversation && isOpen()) {
      pollTimer = window.setInterval(function () { poll(false); }, CONFIG.poll_ms);
    }
  }
  function stopPolling() {
    if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
  }
  function isOpen() { return embedded || !panel.hidden; }
  var started = false;
  function begin() {
    if (started) { return; }
    started = true;
    if (state.conversation) { poll(true); } else { add("assistant", CONFIG.greeting[lang]); }
  }
  function open() {
    panel.hidden = false;
    if (launcher) { launcher.setAttribute("aria-expanded", "true"); }
    state.open = true;
    save();
    begin();
    startPolling();
    input.focus();
  }
  function close() {
    if (embedded) { return; }
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    stopPolling();
    launcher.focus();
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(input.value);
    }
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !embedded) { event.preventDefault(); close(); }
  });
  if (launcher) {
    launcher.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
  }
  if (closeButton) { closeButton.addEventListener("click", close); }
  if (embedded) {
    begin();
    startPolling();
  } else if (state.open) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    begin();
    startPolling();
  }
}());
{% endautoescape %}
