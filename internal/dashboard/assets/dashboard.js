// Rampart dashboard pages. No framework: the pages are static HTML filled
// from the JSON API and the live stream (/dashboard/api/stream). Text is set
// with textContent only, never parsed as HTML: event fields come from
// clients.
"use strict";
(function () {
  var page = document.body.dataset.page;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("status");

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(c instanceof Node ? wrap(c) : el("td", c)); });
    return tr;
  }
  function wrap(node) { var td = el("td"); td.appendChild(node); return td; }
  function fill(tbody, rows) {
    tbody.replaceChildren.apply(tbody, rows);
  }
  function num(v, digits) {
    if (v === undefined || v === null) return "–";
    return Number(v).toFixed(digits === undefined ? 1 : digits);
  }
  function ms(v) { return v >= 1000 ? num(v / 1000, 2) + " s" : num(v, v < 10 ? 2 : 0) + " ms"; }
  function time(t) { return new Date(t).toLocaleTimeString(); }
  function getJSON(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { location.href = "/dashboard/login"; throw new Error("logged out"); }
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    });
  }
  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) return r.json().then(function (p) { throw new Error(p.detail || r.status); });
    });
  }
  function setStatus(text, bad) {
    statusEl.textContent = text;
    statusEl.classList.toggle("bad", !!bad);
  }

  // The live stream: one update a second (rates, last minute, new events).
  var listeners = [];
  function live(fn) { listeners.push(fn); }
  function connect() {
    var es = new EventSource("/dashboard/api/stream");
    es.addEventListener("update", function (e) {
      var u = JSON.parse(e.data);
      setStatus("live · updated " + time(u.now) + " · replica " + u.replica);
      listeners.forEach(function (fn) { fn(u); });
    });
    es.onerror = function () {
      setStatus("disconnected; retrying…", true);
      // A 401 closes the stream for good: check the session.
      if (es.readyState === EventSource.CLOSED) {
        getJSON("/dashboard/api/summary").then(function () { setTimeout(connect, 2000); }, function () {});
      }
    };
  }

  // Overview
  function overview() {
    var plots = {}, range = $("range");
    live(function (u) {
      $("rps").textContent = num(u.rates.requests_per_second);
      $("refps").textContent = num(u.rates.refusals_per_second);
      $("p50").textContent = ms(u.rates.p50_ms);
      $("p99").textContent = ms(u.rates.p99_ms);
      $("uperr").textContent = u.minute.upstream_errors;
      $("total").textContent = u.minute.requests;
      var reasons = Object.keys(u.rates.refusals_per_second_by_reason).sort();
      fill($("reasons"), reasons.length ? reasons.map(function (r) {
        var li = el("li"); li.appendChild(el("span", r, "reason")); li.appendChild(el("span", num(u.rates.refusals_per_second_by_reason[r]) + "/s"));
        return li;
      }) : [el("li", "no refusals in the last 10 s", "muted")]);
    });
    function plot(id, title, series, data) {
      var target = $(id);
      var opts = {
        title: title, width: Math.max(320, target.clientWidth || 800), height: 220,
        series: [{}].concat(series), axes: [{}, {}], scales: { x: { time: true } }
      };
      if (plots[id]) plots[id].destroy();
      target.replaceChildren();
      plots[id] = new uPlot(opts, data, target);
    }
    var colors = ["#c0392b", "#8e44ad", "#d35400", "#16a085", "#2c3e50", "#7f8c8d", "#27ae60", "#e67e22"];
    function refresh() {
      var win = range.value;
      getJSON("/dashboard/api/series?window=" + win).then(function (s) {
        var reasons = Object.keys(s.refusals_by_reason).sort();
        var traffic = [{ label: "requests/s", stroke: "#2980b9", width: 2 }, { label: "upstream errors/s", stroke: "#f39c12" }]
          .concat(reasons.map(function (r, i) { return { label: r + "/s", stroke: colors[i % colors.length] }; }));
        plot("plot-traffic", "Traffic and refusals by reason", traffic,
          [s.time, s.requests, s.upstream_errors].concat(reasons.map(function (r) { return s.refusals_by_reason[r]; })));
        plot("plot-latency", "Latency (ms)", [{ label: "p50", stroke: "#27ae60" }, { label: "p99", stroke: "#c0392b" }],
          [s.time, s.p50_ms, s.p99_ms]);
      }).catch(function (e) { setStatus(e.message, true); });
      getJSON("/dashboard/api/routes").then(function (t) {
        fill($("routes").tBodies[0], t.routes.map(function (r) {
          return row([r.route, r.requests, num(r.per_second, 2), r.refusals, r.upstream_errors, num(r.p50_ms, 2), num(r.p99_ms, 2)]);
        }));
      });
    }
    range.addEventListener("change", refresh);
    refresh();
    setInterval(refresh, 5000);
  }

  // Security events
  function events() {
    var all = [], filter = $("filter"), pause = $("pause"), tbody = $("events").tBodies[0];
    function text(ev) {
      return [ev.reason, ev.route, ev.client, ev.principal, ev.key_id, ev.status, ev.method, ev.path, ev.request_id].join(" ").toLowerCase();
    }
    function render() {
      var q = filter.value.trim().toLowerCase();
      var shown = all.filter(function (ev) { return !q || text(ev).indexOf(q) >= 0; }).slice(-300).reverse();
      fill(tbody, shown.map(function (ev) {
        var tr = row([time(ev.time), ev.status, ev.reason, ev.route || "–", ev.client, ev.key_id ? ev.principal + " (" + ev.key_id + ")" : (ev.principal || "–"), ev.request_id]);
        tr.className = "event";
        tr.dataset.seq = ev.seq;
        tr.addEventListener("click", function () { details(ev); });
        return tr;
      }));
    }
    function details(ev) {
      var dl = $("event-fields");
      dl.replaceChildren();
      Object.keys(ev).forEach(function (k) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", ev[k])); });
      $("event-details").showModal();
    }
    live(function (u) {
      if (!u.events.length) return;
      all = all.concat(u.events).slice(-1000);
      if (!pause.checked) render();
    });
    filter.addEventListener("input", render);
    pause.addEventListener("change", render);
  }

  // Offenders, blocks and detections
  function offenders() {
    var configured = false;
    function spark(history) {
      var peak = Math.max.apply(null, history.concat([1]));
      var s = el("span", null, "spark");
      history.forEach(function (c) {
        var bar = el("i");
        bar.dataset.h = String(Math.round(c / peak * 8));
        bar.title = c + " refusals";
        s.appendChild(bar);
      });
      return s;
    }
    function blockButton(name) {
      var b = el("button", "Block", "block");
      b.dataset.subject = name;
      b.disabled = !configured;
      b.addEventListener("click", function () { block(name, $("block-duration").value, "blocked from the dashboard"); });
      return b;
    }
    function block(subject, duration, reason) {
      post("/dashboard/api/blocks", { subject: subject, duration: duration, reason: reason })
        .then(refresh, function (e) { setStatus("block failed: " + e.message, true); });
    }
    function refresh() {
      getJSON("/dashboard/api/blocks").then(function (b) {
        configured = b.configured;
        $("blocks-note").textContent = b.configured ? "Blocks and unblocks are audited." : "Detection not configured: blocks are unavailable.";
        $("block-submit").disabled = !b.configured;
        fill($("blocks").tBodies[0], b.blocks.map(function (x) {
          var un = el("button", "Unblock", "unblock");
          un.dataset.subject = x.subject;
          un.addEventListener("click", function () {
            post("/dashboard/api/unblock", { subject: x.subject }).then(refresh, function (e) { setStatus("unblock failed: " + e.message, true); });
          });
          return row([x.subject, new Date(x.until).toLocaleString(), x.reason, x.source || "–", un]);
        }));
        fill($("detections").tBodies[0], b.detections.map(function (d) { return row([time(d.time), d.detector, d.subject, d.detail]); }));
        ["clients", "principals", "keys"].forEach(function (kind) {
          getJSON("/dashboard/api/offenders?kind=" + kind).then(function (o) {
            fill($("off-" + kind).tBodies[0], o.offenders.map(function (x) {
              return row([x.name, x.refusals, x.last_reason, spark(x.history), blockButton(x.name)]);
            }));
          });
        });
      }).catch(function (e) { setStatus(e.message, true); });
    }
    $("block-form").addEventListener("submit", function (e) {
      e.preventDefault();
      block($("block-subject").value, $("block-duration").value, $("block-reason").value);
    });
    refresh();
    setInterval(refresh, 3000);
  }

  // Config
  function config() {
    getJSON("/dashboard/api/config").then(function (c) {
      $("config-file").textContent = c.file || "(embedded)";
      $("config-loaded").textContent = c.loaded ? new Date(c.loaded).toLocaleString() : "–";
      $("config").textContent = JSON.stringify(c.config, null, 2);
      fill($("reloads").tBodies[0], (c.reloads || []).map(function (r) {
        return row([new Date(r.time).toLocaleString(), r.ok ? "applied" : "refused", (r.errors || []).length]);
      }));
      $("last-failure").textContent = c.last_failure ? new Date(c.last_failure.time).toLocaleString() + "\n" + c.last_failure.errors.join("\n") : "none";
    }).catch(function (e) { setStatus(e.message, true); });
  }

  var pages = { overview: overview, events: events, offenders: offenders, config: config };
  if (pages[page]) pages[page]();
  connect();
})();
