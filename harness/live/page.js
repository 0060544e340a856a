// The live drill page: it keeps the state the server streams (the state so
// far first, then every change) and redraws from it. Nothing is fetched but
// the stream and the two control POSTs.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="firedrill-token"]').content;
  var st = null;          // the state, as the server keeps it
  var seenAt = 0;         // when (browser clock, ms) st.now was last moved on
  var queued = false;
  var $ = function (id) { return document.getElementById(id); };
  var SVG = "http://www.w3.org/2000/svg";

  function now() {
    if (!st) return 0;
    if (st.finished || st.stopping) return st.now;
    return st.now + Math.max(0, (Date.now() - seenAt) / 1000);
  }
  function moveClock(t) {
    if (typeof t === "number" && t >= st.now) { st.now = t; seenAt = Date.now(); }
  }
  function clock(s) {
    s = Math.max(0, Math.floor(s));
    var m = Math.floor(s / 60), h = Math.floor(m / 60), ss = ("0" + (s % 60)).slice(-2);
    return h > 0 ? h + ":" + ("0" + (m % 60)).slice(-2) + ":" + ss : m + ":" + ss;
  }
  function secs(s) {
    if (s < 10) return s.toFixed(1) + " s";
    if (s < 90) return Math.round(s) + " s";
    return clock(s);
  }
  function commas(n) { return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Applying the stream's events.
  var apply = {
    state: function (d) { st = d; seenAt = Date.now(); },
    stage: function (d) {
      st.stages.push({ n: d.n, total: d.total, title: d.title, what: d.what, at: d.at, done: false });
      ctl = { text: "", bad: false }; // what a control said was about the stage before
      st.waiting = d.waiting;
    },
    stagedone: function (d) {
      st.stages.forEach(function (s) { if (s.n === d.n) { s.said = d.said; s.took = d.took; s.done = true; } });
      st.waiting = d.waiting;
    },
    said: function (d) { st.lines.push(d.line); if (st.lines.length > 40) st.lines.shift(); },
    span: function (d) {
      var i = st.spans.findIndex(function (s) { return s.id === d.span.id; });
      if (i >= 0) st.spans[i] = d.span; else st.spans.push(d.span);
      st.waiting = d.waiting;
    },
    progress: function (d) {
      var i = st.phases.findIndex(function (p) { return p.phase === d.phase.phase; });
      if (i >= 0) st.phases[i] = d.phase; else st.phases.push(d.phase);
    },
    point: function (d) { st.points.push(d.point); },
    points: function (d) { st.points = d.points; },
    waiting: function (d) { st.waiting = d.waiting; },
    stopping: function () { st.stopping = true; },
    finished: function (d) {
      st.finished = d.finished; st.waiting = 0;
      // The server now serves the final report at this address.
      setTimeout(function () { location.reload(); }, 1200);
    }
  };

  function redraw() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(function () { queued = false; render(); });
  }

  var es = new EventSource("/live/events");
  Object.keys(apply).forEach(function (type) {
    es.addEventListener(type, function (ev) {
      var d = JSON.parse(ev.data);
      if (!st && type !== "state") return;
      apply[type](d);
      if (type !== "state") moveClock(d.now);
      redraw();
    });
  });
  es.onopen = function () { setConn(true); };
  es.onerror = function () { setConn(false); };
  function setConn(up) {
    var c = $("conn");
    c.textContent = up ? "● connected" : "● reconnecting…";
    c.className = "conn " + (up ? "up" : "down");
    $("lost").hidden = up || !st || !!st.finished;
    $("badge").classList.toggle("off", !up);
  }

  // Controls.
  function post(path, done) {
    var x = new XMLHttpRequest();
    x.open("POST", path);
    x.setRequestHeader("X-Firedrill-Token", token);
    x.onload = function () { done(x.status < 300, x.responseText.trim()); };
    x.onerror = function () { done(false, "the page could not reach the drill"); };
    x.send();
  }
  var ctl = { text: "", bad: false }; // what the last control said, until the next one
  function say(text, bad) { ctl = { text: text, bad: !!bad }; redraw(); }
  var next = $("next");
  if (next) next.addEventListener("click", function () {
    if (!st || !st.waiting) return;
    next.disabled = true;
    say("going on…");
    post("/live/next?stage=" + st.waiting, function (ok, text) { say(ok ? "" : text, !ok); redraw(); });
  });
  var stop = $("stop"), armed = null;
  stop.addEventListener("click", function () {
    if (!armed) {
      stop.classList.add("armed"); stop.textContent = "Click again to stop the drill";
      armed = setTimeout(function () { armed = null; stop.classList.remove("armed"); stop.textContent = "Stop the drill"; }, 5000);
      return;
    }
    clearTimeout(armed); armed = null;
    stop.disabled = true; stop.textContent = "Stopping…";
    post("/live/stop", function (ok, text) { if (!ok) { say(text, true); stop.disabled = false; stop.textContent = "Stop the drill"; } });
  });

  // Drawing.
  function current() { return st.stages.length ? st.stages[st.stages.length - 1] : null; }
  function phase(name) { return st.phases.find(function (p) { return p.phase === name; }); }

  function render() {
    if (!st) return;
    var t = now(), cur = current();
    $("clock").textContent = clock(t);
    var head = $("head"), badge = $("badge");
    head.classList.toggle("stopping", !!st.stopping);
    badge.classList.toggle("stopping", !!st.stopping);
    $("badgetext").textContent = st.finished ? "ENDED" : st.stopping ? "STOPPING" : "LIVE";
    $("stopping").hidden = !st.stopping || !!st.finished;
    var ended = $("ended");
    ended.hidden = !st.finished;
    if (st.finished) {
      ended.className = "banner ended " + (st.finished.verdict || "");
      ended.textContent = "Drill ended: " + (st.finished.verdict || "").toUpperCase() + ". " + (st.finished.headline || "") + " Loading the final report…";
    }

    // The current stage, in large type.
    var now_ = $("now");
    now_.classList.toggle("waiting", !!st.waiting);
    if (cur) {
      $("stageno").textContent = "Stage " + cur.n + " of " + cur.total + (st.waiting ? " · waiting for the go-ahead" : cur.done ? " · done" : "");
      $("stagetitle").textContent = cur.title;
      $("what").textContent = cur.what;
      var ss = $("stagesaid");
      ss.hidden = !cur.done;
      ss.textContent = cur.done ? "→ " + cur.said + " (" + secs(cur.took) + ")" : "";
    }
    var said = $("said");
    said.textContent = "";
    st.lines.filter(function (l) { return cur && l.stage === cur.n; }).slice(-3).forEach(function (l) {
      said.appendChild(el("li", /fault|inject|kill|recover/i.test(l.text) ? "fault" : "", l.text));
    });
    var next = $("next");
    if (next) {
      next.disabled = !st.waiting || !!st.stopping || !!st.finished;
      next.textContent = st.waiting ? "Next stage ▸ start stage " + st.waiting : "Next stage ▸";
    }
    var m = $("ctlmsg");
    if (ctl.text === "going on…" && !st.waiting) ctl.text = "";
    m.textContent = ctl.text;
    m.className = "ctlmsg" + (ctl.bad ? " bad" : "");
    $("stop").hidden = !!st.finished;

    renderTiles();
    renderPhases();
    renderStages(cur);
    renderChart(t);
  }

  function tile(label, value, sub, cls) {
    var d = el("div", "tile " + (cls || ""));
    d.appendChild(el("div", "label", label));
    d.appendChild(el("div", "value", value));
    if (sub) d.appendChild(el("div", "sub", sub));
    return d;
  }
  function renderTiles() {
    var box = $("tiles");
    box.textContent = "";
    var load = phase("load"), last = st.points[st.points.length - 1];
    if (load) {
      box.appendChild(tile("acknowledged", commas(load.acked), "writes" + (last ? " · " + commas(last.acked) + "/s now" : ""), "good"));
      box.appendChild(tile("refused", commas(load.failed), "writes the service said no to", load.failed ? "bad" : ""));
      box.appendChild(tile("ambiguous", commas(load.ambiguous), "writes sent, outcome unknown", load.ambiguous ? "warn" : ""));
    }
    var v = verification();
    if (v) {
      box.appendChild(tile("users intact", commas(v.intact), "verified so far", "good"));
      box.appendChild(tile("users damaged", commas(v.damaged), "verified so far", v.damaged ? "bad" : ""));
    }
    var faults = st.spans.filter(function (s) { return s.category === "fault"; });
    if (faults.length) {
      var open = faults.filter(function (s) { return s.end === null; }).length;
      box.appendChild(tile("faults", commas(faults.length), open ? open + " active now" : "all recovered", open ? "bad" : ""));
    }
    box.hidden = !box.childNodes.length;
  }
  function verification() {
    var v = phase("verify");
    if (v) return v;
    // A check before any fault is not the verdict's verification.
    return st.phases.find(function (p) { return p.phase !== "check" && p.intact + p.damaged > 0; });
  }

  var names = { load: "Phones syncing", check: "Checking users before any fault", verify: "Verifying users", observe: "Reading every user back" };
  function renderPhases() {
    var box = $("phases");
    if (!st.phases.length) return;
    box.textContent = "";
    st.phases.forEach(function (p, k) {
      var later = k < st.phases.length - 1; // a later phase began: this one ended
      var d = el("div", "phase");
      d.dataset.phase = p.phase;
      var row = el("div", "row");
      var left = el("span");
      left.appendChild(el("b", "", names[p.phase] || p.phase));
      left.appendChild(document.createTextNode(" " + commas(p.done) + (p.total ? " of " + commas(p.total) : "") + " " + p.unit));
      row.appendChild(left);
      var complete = later || (p.total > 0 && p.done >= p.total) || !!st.finished;
      row.appendChild(el("span", "eta", complete ? "ended" : p.eta > 0 ? "about " + secs(p.eta) + " left" : p.total ? "estimating…" : ""));
      d.appendChild(row);
      var bar = el("div", "bar");
      if (p.intact + p.damaged > 0 && p.total > 0) {
        var a = el("span", "intact"); a.style.width = (100 * p.intact / p.total) + "%"; bar.appendChild(a);
        var b = el("span", "damaged"); b.style.width = (100 * p.damaged / p.total) + "%"; bar.appendChild(b);
      } else {
        var s = el("span"); s.style.width = (p.total ? Math.min(100, 100 * p.done / p.total) : 0) + "%"; bar.appendChild(s);
      }
      d.appendChild(bar);
      if (p.intact + p.damaged > 0) {
        var vc = el("div", "verify-counts");
        var i = el("div", "intact"); i.appendChild(el("b", "", commas(p.intact))); i.appendChild(document.createTextNode("users intact")); vc.appendChild(i);
        var dm = el("div", "damaged"); dm.appendChild(el("b", "", commas(p.damaged))); dm.appendChild(document.createTextNode("users damaged")); vc.appendChild(dm);
        if (p.total) { var r = el("div"); r.appendChild(el("b", "", Math.round(100 * (p.intact + p.damaged) / p.total) + "%")); r.appendChild(document.createTextNode("of " + commas(p.total) + " verified")); vc.appendChild(r); }
        d.appendChild(vc);
      }
      box.appendChild(d);
    });
  }

  function renderStages(cur) {
    var box = $("stages");
    box.textContent = "";
    st.stages.forEach(function (s) {
      var li = el("li", s.done ? "done" : (cur && s.n === cur.n ? "current" : ""));
      li.appendChild(el("span", "n", s.n + "/" + s.total));
      li.appendChild(el("span", "t", s.title));
      li.appendChild(el("span", "took", s.done ? secs(s.took) : (cur && s.n === cur.n ? (st.waiting === s.n ? "waiting" : "running") : "")));
      box.appendChild(li);
    });
  }

  // The timeline: the same geometry and classes as the final report's.
  var W = 1000, X0 = 72, X1 = W - 16, Y0 = 28, PLOT = 190, LANE = 18, GAP = 6, CHAR = 7.6;
  function niceScale(top, n) {
    if (!(top > 0)) return [1, n];
    var raw = top / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = mag;
    [1, 2, 2.5, 5, 10].some(function (m) { step = m * mag; return step >= raw; });
    return [step, Math.ceil(top / step) * step];
  }
  function niceTime(end, n) {
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
    for (var i = 0; i < steps.length; i++) if (end / steps[i] <= n) return steps[i];
    return Math.ceil(end / n / 3600) * 3600;
  }
  function renderChart(t) {
    var c = $("chart");
    c.textContent = "";
    var end = Math.max(t, 10);
    st.points.forEach(function (p) { end = Math.max(end, p.t + p.w / 2); });
    st.spans.forEach(function (s) { end = Math.max(end, s.start, s.end || 0); });
    var x = function (v) { return X0 + Math.min(Math.max(v, 0), end) / end * (X1 - X0); };
    var top = 0, hasFailed = false, hasAmb = false;
    st.points.forEach(function (p) { top = Math.max(top, p.acked, p.failed, p.ambiguous); hasFailed = hasFailed || p.failed > 0; hasAmb = hasAmb || p.ambiguous > 0; });
    var sc = niceScale(top, 4), step = sc[0], yMax = sc[1], Y1 = Y0 + PLOT;
    var y = function (v) { return Y1 - v / yMax * (Y1 - Y0); };
    var bands = svg("g"), grid = svg("g"), lines = svg("g"), lanes = svg("g");
    c.appendChild(bands); c.appendChild(grid); c.appendChild(lines); c.appendChild(lanes);
    for (var v = 0; v <= yMax + step / 2; v += step) {
      grid.appendChild(svg("line", { "class": "grid", x1: X0, x2: X1, y1: y(v), y2: y(v) }));
      grid.appendChild(svg("text", { x: X0 - 8, y: y(v) + 4, "text-anchor": "end" }, commas(v)));
    }
    grid.appendChild(svg("text", { "class": "ytitle", x: X0 - 8, y: 14, "text-anchor": "end" }, "writes/s"));
    if (!st.points.length) {
      grid.appendChild(svg("text", { "class": "nodata", x: X0 + 16, y: Y0 + 40 }, phase("load") ? "Measuring the write rate…" : "The write rate appears here once the phones sync."));
    } else {
      var path = function (get) {
        return st.points.map(function (p, i) { return (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(get(p)).toFixed(1); }).join(" ");
      };
      var acked = path(function (p) { return p.acked; });
      var f = st.points[0], l = st.points[st.points.length - 1];
      lines.appendChild(svg("path", { "class": "area", d: acked + " L" + x(l.t).toFixed(1) + " " + Y1 + " L" + x(f.t).toFixed(1) + " " + Y1 + " Z" }));
      lines.appendChild(svg("path", { "class": "acked", d: acked }));
      if (hasFailed) lines.appendChild(svg("path", { "class": "failed", d: path(function (p) { return p.failed; }) }));
      if (hasAmb) lines.appendChild(svg("path", { "class": "ambiguous", d: path(function (p) { return p.ambiguous; }) }));
    }
    grid.appendChild(svg("line", { "class": "axis", x1: X0, x2: X1, y1: Y1, y2: Y1 }));

    var laneY = Y1 + 26, laneTop = laneY, bandRects = [];
    function lane(name, spans, classOf, band) {
      if (!spans.length) return;
      var rowEnds = [], placed = [];
      spans.forEach(function (s, i) {
        var x0 = x(s.start), x1 = x(s.end === null ? t : s.end), w = Math.max(x1 - x0, 2);
        var row = rowEnds.findIndex(function (e) { return e <= x0 + 0.5; });
        if (row < 0) { row = rowEnds.length; rowEnds.push(0); }
        rowEnds[row] = x0 + w;
        placed.push({ s: s, x: x0, w: w, row: row, cls: classOf(s, i) });
      });
      lanes.appendChild(svg("text", { "class": "lane-name", x: X0 - 8, y: laneY + 13, "text-anchor": "end" }, name));
      placed.forEach(function (p, i) {
        var yy = laneY + p.row * (LANE + 2), open = p.s.end === null;
        var title = p.s.name + (p.s.target ? " on " + p.s.target : "") + " from +" + clock(p.s.start) + (open ? ", still under way" : " for " + secs(p.s.end - p.s.start)) + (p.s.detail ? ": " + p.s.detail : "");
        var r = svg("rect", { "class": p.cls + (open ? " open" : ""), x: p.x, y: yy, width: p.w, height: LANE, rx: 2, "data-span": p.s.id, "data-category": p.s.category, "data-open": open ? "true" : "false" });
        r.appendChild(svg("title", {}, title));
        lanes.appendChild(r);
        var label = p.s.name + (p.s.target ? "@" + p.s.target : "") + (open ? " …" : "");
        var tw = label.length * CHAR + 8, nextX = X1 + 16;
        for (var j = i + 1; j < placed.length; j++) if (placed[j].row === p.row) { nextX = placed[j].x; break; }
        if (p.w >= tw) lanes.appendChild(svg("text", { "class": p.cls === "stage" ? "out" : "in", x: p.x + 4, y: yy + LANE / 2 + 5 }, label));
        else if (p.x + p.w + tw <= nextX) lanes.appendChild(svg("text", { "class": "out", x: p.x + p.w + 4, y: yy + LANE / 2 + 5 }, label));
        if (band) bandRects.push({ x: p.x, w: p.w, cls: "band " + p.cls, title: title });
      });
      laneY += rowEnds.length * (LANE + 2) - 2 + GAP;
    }
    var by = function (cat) { return st.spans.filter(function (s) { return s.category === cat; }); };
    var restoreClass = {};
    by("restore").forEach(function (s, i) { restoreClass[s.id] = "c" + (i % 6); });
    lane("stages", by("stage"), function () { return "stage"; }, false);
    lane("faults", by("fault"), function () { return "fault"; }, true);
    lane("backup", by("backup"), function () { return "backup"; }, false);
    lane("restore", by("restore"), function (s) { return restoreClass[s.id]; }, true);
    bandRects.forEach(function (b) {
      var r = svg("rect", { "class": b.cls, x: b.x, y: Y0, width: b.w, height: laneY - GAP - Y0 });
      r.appendChild(svg("title", {}, b.title));
      bands.appendChild(r);
    });
    if (!st.finished) lanes.appendChild(svg("line", { "class": "nowline", x1: x(t), x2: x(t), y1: Y0, y2: Math.max(laneY - GAP, Y1) }));
    var xs = niceTime(end, 10);
    for (var s = 0; s <= end + xs / 1000; s += xs) {
      grid.appendChild(svg("line", { "class": "grid", x1: x(s), x2: x(s), y1: Y0, y2: Y1 }));
      grid.appendChild(svg("text", { x: x(s), y: Y1 + 16, "text-anchor": "middle" }, clock(s)));
    }
    var H = Math.max(laneY, laneTop) + 24;
    grid.appendChild(svg("text", { x: X1, y: H - 4, "text-anchor": "end" }, "time since the drill started (m:ss)"));
    c.setAttribute("viewBox", "0 0 " + W + " " + H);
    c.dataset.points = st.points.length;
    c.dataset.spans = st.spans.length;
  }

  // The clock and the open spans move on between events.
  setInterval(function () { if (st && !st.finished) redraw(); }, 500);
})();
