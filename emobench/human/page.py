"""The rating page: one self-contained HTML document (no external scripts, fonts or styles; works offline).

Keys: 1 / ← / A choose the left side, 2 / → / L the right side, Backspace goes back one question of the
current task. The task's answers are posted together once its last question is answered.
"""

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emobench rating</title>
<link rel="icon" href="data:,">
<style>
:root { --ink:#1d2430; --mute:#6b7480; --line:#dde2e8; --accent:#2f6fdb; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink);
       background:var(--bg); }
header { display:flex; align-items:center; gap:16px; padding:10px 24px; background:#fff;
         border-bottom:1px solid var(--line); }
header h1 { font-size:17px; margin:0; font-weight:600; }
#who { color:var(--mute); font-size:14px; }
#bar { flex:1; height:8px; background:var(--line); border-radius:4px; overflow:hidden; }
#fill { height:100%; width:0; background:var(--accent); transition:width .2s; }
#count { font-variant-numeric:tabular-nums; color:var(--mute); font-size:14px; min-width:90px; text-align:right; }
main { max-width:900px; margin:18px auto; padding:0 24px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:22px 26px; }
#question { font-size:22px; font-weight:600; margin:0 0 4px; text-align:center; }
#qstep { text-align:center; color:var(--mute); font-size:14px; margin-bottom:18px; }
.sides { display:grid; grid-template-columns:1fr 1fr; gap:26px; }
.side { border:2px solid var(--line); border-radius:10px; padding:12px; background:#fafbfc; cursor:pointer;
        display:flex; flex-direction:column; align-items:center; gap:10px; transition:border-color .1s; }
.side:hover { border-color:var(--accent); }
.side.picked { border-color:var(--accent); background:#eef4ff; }
.imgs { display:grid; gap:6px; width:100%; max-width:300px; }
.imgs.n1 { grid-template-columns:1fr; }
.imgs.many { grid-template-columns:1fr 1fr; }
.imgs img { width:100%; aspect-ratio:1/1; object-fit:contain; background:#fff; border-radius:4px; }
.imgs img.small { image-rendering:pixelated; }
button.pick { font:inherit; font-weight:600; padding:9px 20px; border-radius:7px; border:1px solid var(--accent);
              background:#fff; color:var(--accent); cursor:pointer; min-width:170px; }
button.pick:hover, .side.picked button.pick { background:var(--accent); color:#fff; }
kbd { font:12px ui-monospace,monospace; border:1px solid var(--line); border-bottom-width:2px; border-radius:4px;
      padding:1px 5px; background:#fff; color:var(--ink); }
#help { text-align:center; color:var(--mute); font-size:13px; margin-top:16px; }
#msg { text-align:center; color:#b3261e; min-height:20px; margin-top:10px; font-size:14px; }
#login, #done { text-align:center; padding:40px 20px; }
#login input { font:inherit; padding:8px 12px; border:1px solid var(--line); border-radius:6px; width:240px; }
#login button { font:inherit; padding:8px 18px; border-radius:6px; border:0; background:var(--accent); color:#fff; }
.hidden { display:none !important; }
</style></head>
<body>
<header><h1>Image preference study</h1><span id="who"></span>
  <div id="bar"><div id="fill"></div></div><span id="count"></span></header>
<main>
  <div id="login" class="card hidden">
    <p>Enter the rater id you were given. You can stop at any time and resume later with the same id.</p>
    <form id="loginform"><input id="raterid" autocomplete="off" placeholder="rater id" pattern="[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}" required>
    <button type="submit">Start</button></form>
  </div>
  <div id="done" class="card hidden"><h2>All tasks done &mdash; thank you!</h2>
    <p>Your answers are saved. You can close this page.</p></div>
  <div id="rate" class="card hidden">
    <p id="question"></p><div id="qstep"></div>
    <div class="sides">
      <div class="side" id="side-left" data-side="left"><div class="imgs" id="imgs-left"></div>
        <button class="pick" id="pick-left" type="button">Left <kbd>1</kbd> <kbd>&larr;</kbd></button></div>
      <div class="side" id="side-right" data-side="right"><div class="imgs" id="imgs-right"></div>
        <button class="pick" id="pick-right" type="button">Right <kbd>2</kbd> <kbd>&rarr;</kbd></button></div>
    </div>
    <div id="msg"></div>
    <div id="help">Keys: <kbd>1</kbd>/<kbd>&larr;</kbd> left &middot; <kbd>2</kbd>/<kbd>&rarr;</kbd> right &middot;
      <kbd>Backspace</kbd> previous question. Judge only what is asked; there is no right answer.</div>
  </div>
</main>
<script>
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var rater = params.get("rater") || localStorage.getItem("emobench-rater") || "";
  var task = null, qi = 0, answers = {}, busy = false;

  function show(id) { ["login", "done", "rate"].forEach(function (x) { $(x).classList.toggle("hidden", x !== id); }); }
  function progress(p) {
    $("fill").style.width = (p.total ? 100 * p.done / p.total : 0) + "%";
    $("count").textContent = p.done + " / " + p.total;
    $("count").setAttribute("data-done", p.done);
  }
  function fillSide(side, ids) {
    var box = $("imgs-" + side);
    box.innerHTML = "";
    box.className = "imgs " + (ids.length > 1 ? "many" : "n1");
    ids.forEach(function (id) {
      var img = document.createElement("img");
      img.alt = side + " image";
      img.src = "img/" + id + ".png";
      img.onload = function () { if (img.naturalWidth < 160) img.classList.add("small"); };
      box.appendChild(img);
    });
  }
  function showQuestion() {
    var q = task.questions[qi];
    $("question").textContent = q.text;
    $("qstep").textContent = task.questions.length > 1 ? "Question " + (qi + 1) + " of " + task.questions.length : "";
    ["left", "right"].forEach(function (s) {
      $("side-" + s).classList.toggle("picked", answers[q.id] === s);
    });
    busy = false;
  }
  function load() {
    busy = true;
    fetch("api/next?rater=" + encodeURIComponent(rater)).then(function (r) {
      if (!r.ok) throw new Error("the server refused rater id " + rater);
      return r.json();
    }).then(function (data) {
      progress(data.progress);
      if (!data.task) { show("done"); busy = false; return; }
      task = data.task; qi = 0; answers = {};
      fillSide("left", task.left); fillSide("right", task.right);
      $("rate").setAttribute("data-task", task.task_id);
      $("msg").textContent = "";
      show("rate"); showQuestion();
    }).catch(function (e) { $("msg").textContent = String(e.message || e); show("rate"); busy = false; });
  }
  function submit() {
    busy = true;
    var body = {rater: rater, task_id: task.task_id, order: task.order, left: task.left, right: task.right,
                answers: answers, shown_at: task.shown_at};
    fetch("api/vote", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) {
        if (r.ok || r.status === 409) { load(); return; }   // 409: already saved (e.g. from another tab)
        return r.json().then(function (d) { throw new Error("not saved: " + JSON.stringify(d.detail)); });
      }).catch(function (e) { $("msg").textContent = String(e.message || e) + " (press the key again to retry)";
                              qi = task.questions.length - 1; busy = false; });
  }
  function choose(side) {
    if (busy || !task) return;
    answers[task.questions[qi].id] = side;
    $("side-" + side).classList.add("picked");
    if (qi + 1 < task.questions.length) { qi += 1; busy = true; setTimeout(showQuestion, 120); }
    else { submit(); }
  }
  function back() { if (!busy && task && qi > 0) { qi -= 1; showQuestion(); } }
  ["left", "right"].forEach(function (s) {
    $("side-" + s).addEventListener("click", function () { choose(s); });
  });
  document.addEventListener("keydown", function (ev) {
    if ($("rate").classList.contains("hidden") || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var k = ev.key;
    if (k === "1" || k === "ArrowLeft" || k === "a" || k === "A") { ev.preventDefault(); choose("left"); }
    else if (k === "2" || k === "ArrowRight" || k === "l" || k === "L") { ev.preventDefault(); choose("right"); }
    else if (k === "Backspace") { ev.preventDefault(); back(); }
  });
  $("loginform").addEventListener("submit", function (ev) {
    ev.preventDefault();
    rater = $("raterid").value.trim();
    localStorage.setItem("emobench-rater", rater);
    $("who").textContent = "rater " + rater;
    load();
  });
  if (rater) { $("who").textContent = "rater " + rater; load(); } else { show("login"); }
})();
</script>
</body></html>
"""
