/* Segment rule editor: rows of (field, operator, value) inside ALL / ANY / NONE groups, with
 * a live count of the contacts who match.
 *
 * Progressive enhancement: the form's JSON textarea (#id_rules) is what the server reads.
 * Without this script a person edits the JSON and presses "Count contacts" or "Save"; with
 * it, the visual editor writes the same JSON into the textarea on every change and asks the
 * server for the count (POST, CSRF token from the form). The menus come from the server
 * (#segment-catalogue), translated; nothing here knows a field by name.
 */
(function () {
  "use strict";

  var root = document.getElementById("segment-editor");
  var textarea = document.getElementById("id_rules");
  var catalogueNode = document.getElementById("segment-catalogue");
  var form = document.getElementById("segment-form");
  var countNode = document.getElementById("segment-count");
  if (!root || !textarea || !catalogueNode || !form || !countNode || !window.fetch) {
    return;
  }

  var MAX_DEPTH = 6;
  var catalogue = JSON.parse(catalogueNode.textContent);
  var S = catalogue.strings;
  var entries = catalogue.fields;
  var byKey = {};
  entries.forEach(function (entry) {
    byKey[entry.key] = entry;
    entry.ops.forEach(function (op) {
      op.inputs.forEach(function (input) {
        if (input.json && input.choices) {
          // One spelling for JSON values, so that decoded leaves find their option.
          input.choices.forEach(function (c) { c[0] = JSON.stringify(JSON.parse(c[0])); });
        }
      });
    });
  });

  var nextId = 1;
  var tree = null;
  var nodesById = {};
  var focusAfterRender = null;
  var countTimer = null;
  var countSeq = 0;
  var controller = null;

  // --- the model: groups, rows and raw rows (rules the menus cannot show) -----------------

  function group(mode, items) {
    return { type: "group", id: nextId++, mode: mode, items: items };
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function same(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  function fromJSON(node) {
    if (isPlainObject(node)) {
      var keys = Object.keys(node);
      if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any") &&
          Array.isArray(node[keys[0]])) {
        return group(keys[0], node[keys[0]].map(fromJSON));
      }
      if (keys.length === 1 && keys[0] === "not") {
        var inner = node.not;
        if (isPlainObject(inner) && Object.keys(inner).length === 1 && Array.isArray(inner.any)) {
          return group("none", inner.any.map(fromJSON));
        }
        return group("none", [fromJSON(inner)]);
      }
    }
    return decodeLeaf(node);
  }

  function decodeLeaf(leaf) {
    if (isPlainObject(leaf)) {
      for (var i = 0; i < entries.length; i++) {
        var entry = entries[i];
        for (var j = 0; j < entry.ops.length; j++) {
          var op = entry.ops[j];
          if (matches(leaf, entry, op)) {
            var values = {};
            op.inputs.forEach(function (input) {
              values[input.name] = decodeValue(input, leaf[input.name]);
            });
            return { type: "row", id: nextId++, key: entry.key, op: op.op, values: values };
          }
        }
      }
    }
    return { type: "raw", id: nextId++, text: JSON.stringify(leaf) };
  }

  function matches(leaf, entry, op) {
    var fixed = Object.assign({}, entry.base, op.set);
    var allowed = Object.keys(fixed).concat(op.inputs.map(function (i) { return i.name; }));
    if (!Object.keys(fixed).every(function (k) { return same(leaf[k], fixed[k]); })) {
      return false;
    }
    if (!Object.keys(leaf).every(function (k) { return allowed.indexOf(k) >= 0; })) {
      return false;
    }
    return op.inputs.every(function (i) { return i.optional || i.name in leaf; }) &&
      Object.keys(leaf).length > 0;
  }

  function decodeValue(input, value) {
    if (value === undefined || value === null) {
      return input.type === "choices" ? [] : "";
    }
    if (input.type === "choices") {
      return (Array.isArray(value) ? value : [value]).map(function (v) {
        return input.json ? JSON.stringify(v) : String(v);
      });
    }
    if (input.type === "texts") {
      return Array.isArray(value) ? value.join(", ") : String(value);
    }
    if (input.type === "choice" && input.json) {
      return JSON.stringify(value);
    }
    return String(value);
  }

  function newRow() {
    var entry = entries[0];
    var row = { type: "row", id: nextId++, key: entry.key, op: entry.ops[0].op, values: {} };
    resetValues(row);
    return row;
  }

  function resetValues(row) {
    var op = opOf(row);
    var values = {};
    op.inputs.forEach(function (input) {
      var old = row.values[input.name];
      if (input.type === "choices") {
        values[input.name] = Array.isArray(old) ? old : [];
      } else if (input.type === "choice") {
        var known = input.choices.some(function (c) { return c[0] === old; });
        values[input.name] = known ? old : (input.choices[0] ? input.choices[0][0] : "");
      } else {
        values[input.name] = typeof old === "string" ? old : "";
      }
    });
    row.values = values;
  }

  function entryOf(row) {
    return byKey[row.key];
  }

  function opOf(row) {
    var entry = entryOf(row);
    return entry.ops.filter(function (o) { return o.op === row.op; })[0] || entry.ops[0];
  }

  // --- the model as JSON; each node learns its path for error messages -----------------------

  function toJSON(node, path) {
    node.path = path;
    if (node.type === "group") {
      if (node.mode === "none") {
        return { not: { any: node.items.map(function (item, i) {
          return toJSON(item, path + ".not.any[" + i + "]");
        }) } };
      }
      var out = {};
      out[node.mode] = node.items.map(function (item, i) {
        return toJSON(item, path + "." + node.mode + "[" + i + "]");
      });
      return out;
    }
    if (node.type === "raw") {
      try {
        return JSON.parse(node.text);
      } catch (e) {
        return node.text;
      }
    }
    return encodeRow(node);
  }

  function encodeRow(row) {
    var entry = entryOf(row);
    var op = opOf(row);
    var leaf = Object.assign({}, entry.base, op.set);
    op.inputs.forEach(function (input) {
      var raw = row.values[input.name];
      var value = encodeValue(input, raw);
      if (value === undefined) {
        return;
      }
      leaf[input.name] = value;
    });
    return leaf;
  }

  function encodeValue(input, raw) {
    var parse = function (v) {
      if (!input.json) { return v; }
      try { return JSON.parse(v); } catch (e) { return v; }
    };
    if (input.type === "choices") {
      return (raw || []).map(parse);
    }
    if (input.type === "texts") {
      return String(raw || "").split(",").map(function (s) { return s.trim(); })
        .filter(function (s) { return s; });
    }
    var text = String(raw === undefined ? "" : raw).trim();
    if (text === "") {
      return input.optional ? undefined : null;
    }
    if (input.type === "choice") {
      return parse(text);
    }
    if (input.type === "int") {
      return /^-?\d+$/.test(text) ? parseInt(text, 10) : text;
    }
    if (input.type === "number") {
      var n = Number(text);
      return isFinite(n) ? n : text;
    }
    return text;
  }

  // --- rendering ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") {
        node.textContent = attrs[k];
      } else if (k === "hidden") {
        node.hidden = attrs[k];
      } else {
        node.setAttribute(k, attrs[k]);
      }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function option(value, label, selected) {
    var o = el("option", { value: value, text: label });
    o.selected = !!selected;
    return o;
  }

  function render() {
    nodesById = {};
    root.textContent = "";
    root.appendChild(renderGroup(tree, 1, null));
    if (focusAfterRender) {
      var target = root.querySelector(focusAfterRender);
      if (target) { target.focus(); }
      focusAfterRender = null;
    }
  }

  function renderGroup(g, depth, parent) {
    var mode = el("select", { "class": "seg-mode", "aria-label": S.match,
                              "data-node": g.id });
    ["all", "any", "none"].forEach(function (m) { mode.appendChild(option(m, S[m], g.mode === m)); });
    mode.addEventListener("change", function () {
      g.mode = mode.value;
      changed();
    });
    var head = el("div", { "class": "seg-group-head" }, [
      el("label", { text: S.match }), mode
    ]);
    mode.id = "seg-mode-" + g.id;
    head.firstChild.setAttribute("for", mode.id);
    if (parent) {
      var removeGroup = el("button", { type: "button", "class": "seg-remove-group",
                                       text: S.removeGroup });
      removeGroup.addEventListener("click", function () {
        parent.items.splice(parent.items.indexOf(g), 1);
        focusAfterRender = "[data-node='" + parent.id + "'].seg-mode";
        structureChanged();
      });
      head.appendChild(removeGroup);
    }
    var list = el("ul", { "class": "seg-items" });
    g.items.forEach(function (item) {
      if (item.type === "group") {
        list.appendChild(el("li", {}, [renderGroup(item, depth + 1, g)]));
      } else {
        list.appendChild(renderRow(item, g));
      }
    });
    var addRule = el("button", { type: "button", "class": "seg-add-rule", text: "+ " + S.addRule });
    addRule.addEventListener("click", function () {
      var row = newRow();
      g.items.push(row);
      focusAfterRender = "[data-node='" + row.id + "'] .seg-field";
      structureChanged();
    });
    var actions = el("div", { "class": "seg-actions" }, [addRule]);
    if (depth < MAX_DEPTH) {
      var addGroup = el("button", { type: "button", "class": "seg-add-group",
                                    text: "+ " + S.addGroup });
      addGroup.addEventListener("click", function () {
        var inner = group(g.mode === "all" ? "any" : "all", [newRow()]);
        g.items.push(inner);
        focusAfterRender = "[data-node='" + inner.id + "'].seg-mode";
        structureChanged();
      });
      actions.appendChild(addGroup);
    }
    var box = el("div", { "class": "seg-group", role: "group", "aria-labelledby": mode.id },
                 [head, list]);
    if (!parent && g.items.length === 0) {
      box.appendChild(el("p", { "class": "hint", text: S.empty }));
    }
    box.appendChild(actions);
    box.appendChild(el("p", { "class": "seg-error", hidden: true, role: "alert" }));
    nodesById[g.id] = box;
    return box;
  }

  function renderRow(row, parent) {
    var li = el("li", { "class": "seg-row", "data-node": row.id });
    nodesById[row.id] = li;
    var remove = el("button", { type: "button", "class": "seg-remove", "aria-label": S.remove,
                                title: S.remove, text: "✕" });
    remove.addEventListener("click", function () {
      parent.items.splice(parent.items.indexOf(row), 1);
      focusAfterRender = "[data-node='" + parent.id + "'].seg-mode";
      structureChanged();
    });
    if (row.type === "raw") {
      var raw = el("textarea", { rows: "2", "aria-label": S.raw, "class": "seg-raw" });
      raw.value = row.text;
      raw.addEventListener("input", function () { row.text = raw.value; changed(); });
      li.appendChild(raw);
      li.appendChild(remove);
      li.appendChild(el("p", { "class": "seg-error", hidden: true, role: "alert" }));
      return li;
    }
    var fieldSelect = el("select", { "class": "seg-field", "aria-label": S.field });
    var groups = {};
    entries.forEach(function (entry) {
      if (!groups[entry.group]) {
        groups[entry.group] = el("optgroup", { label: entry.group });
        fieldSelect.appendChild(groups[entry.group]);
      }
      groups[entry.group].appendChild(option(entry.key, entry.label, entry.key === row.key));
    });
    fieldSelect.addEventListener("change", function () {
      row.key = fieldSelect.value;
      row.op = entryOf(row).ops[0].op;
      resetValues(row);
      focusAfterRender = "[data-node='" + row.id + "'] .seg-field";
      structureChanged();
    });
    var opSelect = el("select", { "class": "seg-op", "aria-label": S.operator });
    entryOf(row).ops.forEach(function (o) { opSelect.appendChild(option(o.op, o.label, o.op === row.op)); });
    opSelect.addEventListener("change", function () {
      row.op = opSelect.value;
      resetValues(row);
      focusAfterRender = "[data-node='" + row.id + "'] .seg-op";
      structureChanged();
    });
    li.appendChild(fieldSelect);
    li.appendChild(opSelect);
    opOf(row).inputs.forEach(function (input) { li.appendChild(renderInput(row, input)); });
    li.appendChild(remove);
    li.appendChild(el("p", { "class": "seg-error", hidden: true, role: "alert" }));
    return li;
  }

  function renderInput(row, input) {
    var label = input.aria || input.label || S.value;
    var wrap = el("span", { "class": "seg-input" });
    if (input.prefix) {
      wrap.appendChild(el("span", { "class": "seg-input-label hint", "aria-hidden": "true",
                                    text: input.prefix + " " }));
    }
    var control;
    if (input.type === "choice") {
      control = el("select", { "aria-label": label, "class": "seg-value" });
      input.choices.forEach(function (c) {
        control.appendChild(option(c[0], c[1], c[0] === row.values[input.name]));
      });
      control.addEventListener("change", function () {
        row.values[input.name] = control.value;
        changed();
      });
      wrap.appendChild(control);
      return wrap;
    }
    if (input.type === "choices") {
      var box = el("fieldset", { "class": "seg-choices" }, [
        el("legend", { "class": "visually-hidden", text: label })
      ]);
      input.choices.forEach(function (c) {
        var check = el("input", { type: "checkbox", value: c[0], "class": "seg-value" });
        check.checked = row.values[input.name].indexOf(c[0]) >= 0;
        check.addEventListener("change", function () {
          var values = row.values[input.name].filter(function (v) { return v !== c[0]; });
          if (check.checked) { values.push(c[0]); }
          row.values[input.name] = values;
          changed();
        });
        box.appendChild(el("label", {}, [check, document.createTextNode(" " + c[1])]));
      });
      wrap.appendChild(box);
      return wrap;
    }
    var types = { text: "text", texts: "text", int: "number", number: "number", date: "date" };
    control = el("input", { type: types[input.type] || "text", "aria-label": label,
                            "class": "seg-value" });
    if (input.type === "int") { control.setAttribute("step", "1"); }
    if (input.type === "number") { control.setAttribute("step", "any"); }
    if (input.min !== undefined) { control.setAttribute("min", input.min); }
    if (input.max !== undefined && input.max !== 0) { control.setAttribute("max", input.max); }
    if (input.maxlength) { control.setAttribute("maxlength", input.maxlength); }
    if (input.placeholder) { control.setAttribute("placeholder", input.placeholder); }
    control.value = row.values[input.name] || "";
    control.addEventListener("input", function () {
      row.values[input.name] = control.value;
      changed();
    });
    wrap.appendChild(control);
    if (input.label) {
      wrap.appendChild(el("span", { "class": "seg-input-label hint", "aria-hidden": "true",
                                    text: " " + input.label }));
    }
    return wrap;
  }

  // --- keeping the textarea and the count up to date -----------------------------------------

  function structureChanged() {
    render();
    changed();
  }

  function changed() {
    var rules = toJSON(tree, "rules");
    textarea.value = JSON.stringify(rules);
    scheduleCount(rules);
  }

  function scheduleCount(rules) {
    clearTimeout(countTimer);
    countTimer = setTimeout(function () { count(rules); }, 350);
  }

  function clearErrors() {
    root.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
    root.querySelectorAll(".seg-error").forEach(function (n) { n.hidden = true; n.textContent = ""; });
  }

  function nodeForPath(path) {
    // The deepest node whose path is the error's path or a prefix of it.
    var best = null;
    var bestLength = -1;
    walk(tree, function (node) {
      if (!node.path) { return; }
      var prefix = path === node.path || path.indexOf(node.path + ".") === 0 ||
        path.indexOf(node.path + "[") === 0;
      if (prefix && node.path.length > bestLength) {
        best = node;
        bestLength = node.path.length;
      }
    });
    return best;
  }

  function walk(node, visit) {
    visit(node);
    if (node.type === "group") { node.items.forEach(function (i) { walk(i, visit); }); }
  }

  function showErrors(fields) {
    Object.keys(fields || {}).forEach(function (path) {
      var node = nodeForPath(path);
      var box = node && nodesById[node.id];
      if (!box) { return; }
      box.setAttribute("aria-invalid", "true");
      var message = box.querySelector(":scope > .seg-error");
      if (message) {
        message.hidden = false;
        message.textContent = fields[path].join(" ");
      }
    });
  }

  function say(text, number) {
    countNode.textContent = "";
    if (number === undefined) {
      countNode.textContent = text;
      return;
    }
    var parts = text.split("%(n)s");
    countNode.appendChild(document.createTextNode(parts[0]));
    countNode.appendChild(el("strong", { text: number }));
    countNode.appendChild(document.createTextNode(parts.slice(1).join("")));
  }

  function count(rules) {
    var seq = ++countSeq;
    if (controller) { controller.abort(); }
    controller = window.AbortController ? new AbortController() : null;
    say(S.counting);
    var segmentId = root.getAttribute("data-segment-id");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(root.getAttribute("data-count-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
      body: JSON.stringify({ rules: rules, segment_id: segmentId ? parseInt(segmentId, 10) : null }),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (seq !== countSeq) { return; }
      clearErrors();
      if (typeof body.count === "number") {
        var n = body.count.toLocaleString(document.documentElement.lang || undefined);
        if (body.count === 1) { say(S.countOne); } else { say(S.count, n); }
        countNode.setAttribute("data-count", String(body.count));
      } else {
        countNode.removeAttribute("data-count");
        say(body.error || S.failed);
        showErrors(body.fields);
      }
    }).catch(function (error) {
      if (seq === countSeq && !(error && error.name === "AbortError")) {
        countNode.removeAttribute("data-count");
        say(S.failed);
      }
    });
  }

  function loadFromTextarea() {
    var parsed;
    try {
      parsed = JSON.parse(textarea.value);
    } catch (e) {
      return false;
    }
    var model = fromJSON(parsed);
    tree = model.type === "group" ? model : group("all", [model]);
    return true;
  }

  // --- start ---------------------------------------------------------------------------------

  var loaded = loadFromTextarea();
  if (!loaded) {
    tree = group("all", []);
  }
  root.hidden = false;
  var countButton = document.getElementById("segment-count-button");
  if (countButton) { countButton.hidden = true; }
  var details = document.getElementById("segment-json");
  if (details && loaded && !form.querySelector("[data-testid=rules-errors]")) {
    details.open = false;
  }
  textarea.addEventListener("input", function () {
    if (loadFromTextarea()) {
      render();
      scheduleCount(toJSON(tree, "rules"));
    }
  });
  render();
  if (loaded) {
    // Paths for error messages, then the first count.
    count(toJSON(tree, "rules"));
  }
})();
