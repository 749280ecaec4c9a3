"""The rating page: one self-contained HTML document (no external scripts, fonts or styles; works offline).

Layout: both sides always side by side and alike, at any width (a 390 px phone included); the progress bar
stays visible. Flow: rater id → instructions (before the first task, and on demand) → tasks → done.
Keys: 1 / ← / A choose the left side, 2 / → / L the right side, Backspace goes back one question of the
current task, U undoes the last answered task. Enter and Space never vote: a clicked button does not keep
the focus, and a click the keyboard synthesised is ignored, so a key can never vote again for the side last
clicked. A task's answers are posted together once its last question is answered.
"""

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emobench rating</title>
<link rel="icon" href="data:,">
<style>
:root { --ink:#1d2430; --mute:#5f6874; --line:#dde2e8; --accent:#2f6fdb; --bg:#f6f7f9; }
* { box-sizing: border-box; }
html, body { overflow-x: hidden; }
body { margin:0; font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink);
       background:var(--bg); }
header { display:flex; flex-wrap:wrap; align-items:center; gap:6px 14px; padding:8px 16px; background:#fff;
         border-bottom:1px solid var(--line); position:sticky; top:0; z-index:2; }
header h1 { font-size:16px; margin:0; font-weight:600; white-space:nowrap; }
#who { color:var(--mute); font-size:14px; white-space:nowrap; }
#who a, .links a { color:var(--accent); }
#progress { display:flex; align-items:center; gap:10px; flex:1 1 220px; min-width:0; }
#bar { flex:1; min-width:60px; height:8px; background:var(--line); border-radius:4px; overflow:hidden; }
#fill { height:100%; width:0; background:var(--accent); transition:width .2s; }
#count { font-variant-numeric:tabular-nums; color:var(--mute); font-size:14px; white-space:nowrap; }
main { max-width:900px; margin:14px auto; padding:0 12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px clamp(10px, 3vw, 26px); }
#question { font-size:clamp(18px, 4.6vw, 22px); font-weight:600; margin:0 0 4px; text-align:center; }
#qstep { text-align:center; color:var(--mute); font-size:14px; margin-bottom:14px; min-height:1em; }
.sides { display:grid; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); gap:clamp(8px, 3vw, 26px); }
.side { min-width:0; border:2px solid var(--line); border-radius:10px; padding:clamp(6px, 1.6vw, 12px);
        background:#fafbfc; cursor:pointer; display:flex; flex-direction:column; align-items:stretch;
        gap:10px; transition:border-color .1s; }
.side:hover { border-color:var(--accent); }
.side.picked { border-color:var(--accent); background:#eef4ff; }
.imgs { display:grid; gap:4px; width:100%; max-width:300px; margin:0 auto; }
.imgs.n1 { grid-template-columns:minmax(0, 1fr); }
.imgs.many { grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); }
.imgs img { width:100%; aspect-ratio:1/1; object-fit:contain; background:#fff; border-radius:4px; display:block; }
.imgs img.small { image-rendering:pixelated; }
button.pick { font:inherit; font-weight:600; padding:9px 6px; border-radius:7px; border:1px solid var(--accent);
              background:#fff; color:var(--accent); cursor:pointer; width:100%; min-width:0; }
button.pick:hover, .side.picked button.pick { background:var(--accent); color:#fff; }
kbd { font:12px ui-monospace,monospace; border:1px solid var(--line); border-bottom-width:2px; border-radius:4px;
      padding:1px 5px; background:#fff; color:var(--ink); }
button.pick kbd { margin-left:4px; }
#help { text-align:center; color:var(--mute); font-size:13px; margin-top:14px; }
.links { text-align:center; font-size:14px; margin-top:10px; }
.links button { font:inherit; background:none; border:0; color:var(--accent); cursor:pointer; text-decoration:underline; }
.links button:disabled { color:var(--mute); cursor:default; text-decoration:none; }
#msg { text-align:center; color:#b3261e; min-height:20px; margin-top:10px; font-size:14px; }
#login, #done { text-align:center; padding:32px 16px; }
#login input { font:inherit; padding:8px 12px; border:1px solid var(--line); border-radius:6px; width:min(240px, 100%); }
#login button, #intro button.start { font:inherit; padding:8px 18px; border-radius:6px; border:0;
                                     background:var(--accent); color:#fff; cursor:pointer; margin-top:8px; }
#loginmsg { color:#b3261e; min-height:20px; font-size:14px; }
#intro h2 { margin-top:0; font-size:20px; }
#intro ul { padding-left:20px; }
#intro li { margin:6px 0; }
.hidden { display:none !important; }
@media (max-width: 560px) { button.pick kbd, #help .desk { display:none; } }
</style></head>
<body>
<header><h1>Image preference study</h1>
  <span id="who"></span>
  <div id="progress"><div id="bar"><div id="fill"></div></div><span id="count"></span></div></header>
<main>
  <div id="login" class="card hidden">
    <p>Enter the rater id you were given. You can stop at any time and resume later with the same id.</p>
    <form id="loginform"><input id="raterid" autocomplete="off" placeholder="rater id" pattern="[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}" required>
    <div id="loginmsg"></div>
    <button type="submit">Continue</button></form>
  </div>
  <div id="intro" class="card hidden">
    <h2>Before you start</h2>
    <ul>
      <li>Each task shows two images, <b>left</b> and <b>right</b> (or two small sets of images), and asks one or two
        questions, such as <i>which image shows fear better?</i> or <i>which image has the clearer content?</i></li>
      <li>Judge only what the question asks. There is no right answer: say which side you find better.</li>
      <li>Choose by clicking or tapping a side, or with the keys <kbd>1</kbd> / <kbd>&larr;</kbd> for left and
        <kbd>2</kbd> / <kbd>&rarr;</kbd> for right. <kbd>Backspace</kbd> goes back one question of a task.</li>
      <li>Made a mistake on the task you just finished? <b>Undo last answer</b> (or <kbd>U</kbd>) brings it back.</li>
      <li>Your answers are saved after each task. You can stop at any time and resume later with the same rater id.</li>
      <li>A few tasks come back later on; answer them as you see them then.</li>
    </ul>
    <div style="text-align:center"><button class="start" id="start" type="button">Start rating</button></div>
  </div>
  <div id="done" class="card hidden"><h2>All tasks done &mdash; thank you!</h2>
    <p>Your answers are saved. You can close this page.</p>
    <div class="links"><button id="undo-done" type="button">Undo last answer</button></div></div>
  <div id="rate" class="card hidden">
    <p id="question"></p><div id="qstep"></div>
    <div class="sides">
      <div class="side" id="side-left" data-side="left"><div class="imgs" id="imgs-left"></div>
        <button class="pick" id="pick-left" type="button" tabindex="-1">Left<kbd>1</kbd></button></div>
      <div class="side" id="side-right" data-side="right"><div class="imgs" id="imgs-right"></div>
        <button class="pick" id="pick-right" type="button" tabindex="-1">Right<kbd>2</kbd></button></div>
    </div>
    <div id="msg"></div>
    <div class="links"><button id="undo" type="button">Undo last answer</button> &middot;
      <button id="help-open" type="button">Instructions</button></div>
    <div id="help"><span class="desk">Keys: <kbd>1</kbd>/<kbd>&larr;</kbd> left &middot; <kbd>2</kbd>/<kbd>&rarr;</kbd> right &middot;
      <kbd>Backspace</kbd> previous question &middot; <kbd>U</kbd> undo. </span>Judge only what is asked; there is no right answer.</div>
  </div>
</main>
<script>
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
  var params = new URLSearchParams(location.search);
  var rater = params.get("rater") || localStorage.getItem("emobench-rater") || "";
  var task = null, qi = 0, answers = {}, busy = false, lastDone = 0;

  function show(id) { ["login", "intro", "done", "rate"].forEach(function (x) { $(x).classList.toggle("hidden", x !== id); }); }
  function progress(p) {
    lastDone = p.done;
    $("fill").style.width = (p.total ? 100 * p.done / p.total : 0) + "%";
    $("count").textContent = p.done + " / " + p.total;
    $("count").setAttribute("data-done", p.done);
    $("undo").disabled = $("undo-done").disabled = p.done === 0;
  }
  function who() {
    var box = $("who");
    box.textContent = "";
    if (!rater) return;
    box.appendChild(document.createTextNode("rater " + rater + " \u00b7 "));
    var change = document.createElement("a");
    change.href = "#"; change.id = "change-rater"; change.textContent = "not you?";
    change.addEventListener("click", function (ev) { ev.preventDefault(); login(""); });
    box.appendChild(change);
  }
  function login(message) {   // the way out of a wrong or refused rater id
    rater = ""; task = null;
    localStorage.removeItem("emobench-rater");
    history.replaceState(null, "", location.pathname);
    who();
    $("loginmsg").textContent = message || "";
    $("raterid").value = "";
    show("login");
    busy = false;
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
  function load(introFirst) {
    busy = true;
    fetch("api/next?rater=" + encodeURIComponent(rater)).then(function (r) {
      if (r.status === 422) { login("The rater id \u201c" + rater + "\u201d is not valid: use letters, digits and _ . @ -"); return null; }
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    }).then(function (data) {
      if (!data) return;
      progress(data.progress);
      if (!data.task) { show("done"); busy = false; return; }
      task = data.task; qi = 0; answers = {};
      fillSide("left", task.left); fillSide("right", task.right);
      $("rate").setAttribute("data-task", task.task_id);
      $("msg").textContent = "";
      if (introFirst && data.progress.done === 0) { show("intro"); busy = false; return; }
      show("rate"); showQuestion();
    }).catch(function (e) { $("msg").textContent = String(e.message || e); show("rate"); busy = false; });
  }
  function submit() {
    busy = true;
    var body = {rater: rater, task_id: task.task_id, order: task.order, left: task.left, right: task.right,
                answers: answers, shown_at: task.shown_at};
    fetch("api/vote", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) {
        if (r.ok || r.status === 409) { load(false); return; }   // 409: already saved (e.g. from another tab)
        return r.json().then(function (d) { throw new Error("not saved: " + JSON.stringify(d.detail)); });
      }).catch(function (e) { $("msg").textContent = String(e.message || e) + " (choose again to retry)";
                              qi = task.questions.length - 1; busy = false; });
  }
  function undo() {
    if (busy || !rater || lastDone === 0) return;
    busy = true;
    fetch("api/undo", {method: "POST", headers: {"Content-Type": "application/json"},
                       body: JSON.stringify({rater: rater})})
      .then(function (r) {
        if (!r.ok && r.status !== 404) throw new Error("could not undo (" + r.status + ")");
        load(false);
      }).catch(function (e) { $("msg").textContent = String(e.message || e); busy = false; });
  }
  function choose(side) {
    if (busy || !task || $("rate").classList.contains("hidden")) return;
    answers[task.questions[qi].id] = side;
    $("side-" + side).classList.add("picked");
    if (qi + 1 < task.questions.length) { qi += 1; busy = true; setTimeout(showQuestion, 120); }
    else { submit(); }
  }
  function back() { if (!busy && task && qi > 0) { qi -= 1; showQuestion(); } }
  ["left", "right"].forEach(function (s) {
    var button = $("pick-" + s);
    button.addEventListener("mousedown", function (ev) { ev.preventDefault(); });   // a click never takes focus
    $("side-" + s).addEventListener("click", function (ev) {
      if (ev.detail === 0) return;   // a click the keyboard synthesised (Enter / Space): never a vote
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      choose(s);
    });
  });
  $("undo").addEventListener("click", function () { this.blur(); undo(); });
  $("undo-done").addEventListener("click", function () { this.blur(); undo(); });
  $("help-open").addEventListener("click", function () { this.blur(); show("intro"); });
  $("start").addEventListener("click", function () { this.blur(); if (task) { show("rate"); showQuestion(); } else { load(false); } });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var k = ev.key;
    if (k === "Enter" || k === " ") {   // never a vote, whatever has the focus on the rating card
      if (!$("rate").classList.contains("hidden")) ev.preventDefault();
      return;
    }
    if ($("rate").classList.contains("hidden")) { if ((k === "u" || k === "U") && !$("done").classList.contains("hidden")) undo(); return; }
    if (k === "1" || k === "ArrowLeft" || k === "a" || k === "A") { ev.preventDefault(); choose("left"); }
    else if (k === "2" || k === "ArrowRight" || k === "l" || k === "L") { ev.preventDefault(); choose("right"); }
    else if (k === "Backspace") { ev.preventDefault(); back(); }
    else if (k === "u" || k === "U") { ev.preventDefault(); undo(); }
  });
  document.addEventListener("keyup", function (ev) {
    if ((ev.key === " " || ev.key === "Enter") && !$("rate").classList.contains("hidden")) ev.preventDefault();
  });
  $("loginform").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var id = $("raterid").value.trim();
    if (!PATTERN.test(id)) { $("loginmsg").textContent = "Use 1 to 64 letters, digits and _ . @ - (starting with a letter or digit)."; return; }
    rater = id;
    localStorage.setItem("emobench-rater", rater);
    who();
    load(true);
  });
  if (rater && PATTERN.test(rater)) { who(); load(true); }
  else { login(rater ? "The rater id \u201c" + rater + "\u201d is not valid: use letters, digits and _ . @ -" : ""); }
})();
</script>
</body></html>
"""
