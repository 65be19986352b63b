// The colorize page: pick or drop a sketch, paint color hints on it, see it colored, download the PNG.
//
// The sketch is drawn on a <canvas> where the user paints hints: a click drops a dot, a drag
// draws a stroke. Every change colors the sketch again on the server (POST /api/colorize with
// the hints as JSON) a moment after the last change. Hints are kept in the hint-file format's
// relative units (0-1 of the sketch's width and height; sizes as fractions of its longer side),
// so they do not depend on how large the canvas is shown and save and load as hint files.
"use strict";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 400; // colorize this long after the last change, not on every one
const RECENT_COUNT = 8; // swatches of the colors used last
const RECENT_KEY = "sketchcolor.recent-colors";
const CANVAS_LONG = [512, 1024]; // the canvas's longer side in pixels: at least (to place hints finely), at most
const MIN_STEP_PX = 3; // a stroke's points are at least this far apart on screen (and a shorter drag is a dot)
const KEY_STEP = 0.02; // an arrow key moves the keyboard brush this share of the sketch (Shift: 5x)
const DOT_SIZE = 0.02; // hint-file defaults when a file leaves sizes out (hints.py RADIUS x 2 and WIDTH)
const STROKE_SIZE = 0.015;
const CLOSE_GAP = "0.016"; // hint_gap when "Close small gaps" is ticked: gaps up to 4 px of a 256 px page (MODEL_CARD.md)

let model = null; // GET /api/models: working size, size multiple, upload limits, whether it takes hints
let current = null; // the chosen File, kept so changing an option or a hint colorizes it again
let resultUrl = null; // object URLs of the result and of the last saved hint file, released when replaced
let hintsUrl = null;

const canvas = $("canvas");
const hints = {
  image: null, // the sketch, decoded by the browser, drawn under the hints
  unshown: false, // the browser could not decode the sketch (TIFF, say): no canvas, no hints
  marks: [], // {points: [[x, y], ...] in 0-1 (one point: a dot), color: "#rrggbb", size: diameter / longer side}
  history: [], // earlier `marks` arrays, newest last, for undo; `marks` is replaced, never changed in place
  tool: "brush", // brush | eraser
  gesture: null, // the pointer gesture in progress: {pointerId, points, before}
  cursor: null, // where the brush outline is drawn, [x, y] in 0-1, or null
  recent: [], // colors used, newest first
};
const requests = {
  timer: 0, // the debounce timer, 0 when none
  xhr: null, // the request in flight; there is at most one
  again: false, // something changed while it was in flight: send once more when it ends
};

// --- status and model -------------------------------------------------------------------
function setStatus(state, text) {
  document.body.dataset.state = state; // idle | working | done | error (tests wait on it)
  $("status").textContent = text;
  $("status").className = state === "error" ? "error" : "";
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 2 : 0) + " MB";
}

async function loadModel() {
  try {
    const [models, health] = await Promise.all([
      fetch("/api/models").then((r) => r.json()),
      fetch("/api/health").then((r) => r.json()),
    ]);
    model = models.models[0];
    for (let size = model.size_multiple; size <= model.max_working_size; size += model.size_multiple) {
      const option = new Option(`${size} px${size === model.working_size ? " (trained)" : ""}`, size);
      option.selected = size === model.working_size;
      $("size").add(option);
    }
    $("limits").textContent = `PNG, JPEG, WebP, BMP or TIFF, up to ${megabytes(model.max_upload_bytes)} ` +
      `and ${(model.max_pixels / 1e6).toFixed(0)} megapixels`;
    $("about").textContent = `model ${health.model} · sketchcolor ${health.version}`;
    updateTools();
  } catch (err) {
    setStatus("error", "The server did not answer; is `sketchcolor serve` running?");
  }
}

// --- the sketch on the canvas ------------------------------------------------------------
function showSketch(file) {
  hints.image = null;
  hints.unshown = false;
  hints.marks = [];
  hints.history = []; // hints belong to one sketch (save them to reuse them)
  canvas.hidden = true;
  const url = URL.createObjectURL(file);
  const image = new Image();
  image.onload = () => {
    URL.revokeObjectURL(url); // decoded: drawing it no longer needs the file
    if (current !== file) return; // another sketch was chosen meanwhile
    hints.image = image;
    document.body.classList.add("has-sketch"); // the drop zone makes room for the canvas
    fitCanvas();
    updateTools();
  };
  image.onerror = () => {
    URL.revokeObjectURL(url); // not an image the browser shows (TIFF, or not an image): the server says which
    if (current !== file) return;
    hints.unshown = true;
    updateTools();
  };
  image.src = url;
  updateTools();
}

function fitCanvas() {
  // The backing store keeps the sketch's aspect; CSS scales the element to fit the frame.
  const { naturalWidth: width, naturalHeight: height } = hints.image;
  const longer = Math.max(width, height);
  const scale = Math.min(CANVAS_LONG[1], Math.max(CANVAS_LONG[0], longer)) / longer;
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.hidden = false;
  redraw();
}

let redrawQueued = false;
function requestRedraw() {
  // Pointer events can come faster than frames: draw once per frame.
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    redraw();
  });
}

function redraw() {
  if (!hints.image) return;
  const context = canvas.getContext("2d");
  context.drawImage(hints.image, 0, 0, canvas.width, canvas.height);
  // A soft dark halo keeps light hints visible on white paper; the server gets the plain marks.
  context.save();
  context.shadowColor = "rgba(0, 0, 0, 0.55)";
  context.shadowBlur = 3;
  hints.marks.forEach((mark) => drawMark(context, mark));
  const gesture = hints.gesture;
  if (gesture && hints.tool === "brush") drawMark(context, { points: gesture.points, color: brushColor(), size: brushSize() });
  context.restore();
  if (hints.cursor && toolsOn()) drawCursor(context, hints.cursor);
}

function toCanvas([x, y]) {
  return [x * canvas.width, y * canvas.height];
}

function drawMark(context, mark) {
  const width = Math.max(mark.size * Math.max(canvas.width, canvas.height), 1);
  const points = mark.points.map(toCanvas);
  context.beginPath();
  if (points.length === 1) {
    context.fillStyle = mark.color;
    context.arc(points[0][0], points[0][1], width / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  context.strokeStyle = mark.color;
  context.lineWidth = width;
  context.lineCap = context.lineJoin = "round"; // as the server draws them (round caps and joints)
  context.moveTo(...points[0]);
  points.slice(1).forEach((point) => context.lineTo(...point));
  context.stroke();
}

function drawCursor(context, point) {
  // The brush's outline: black and white rings show on any color; dashed for the eraser.
  const [x, y] = toCanvas(point);
  const radius = Math.max((brushSize() * Math.max(canvas.width, canvas.height)) / 2, 2);
  context.setLineDash(hints.tool === "eraser" ? [4, 3] : []);
  [["#000", 3], ["#fff", 1.5]].forEach(([color, width]) => {
    context.beginPath();
    context.strokeStyle = color;
    context.lineWidth = width;
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.stroke();
  });
  context.setLineDash([]);
}

// --- editing the hints -------------------------------------------------------------------
function toolsOn() {
  return Boolean(model && model.hints && hints.image);
}

function brushColor() {
  return $("color").value;
}

function brushSize() {
  return Number($("brush").value) / 100; // the range input is in percent of the longer side
}

function updateTools() {
  const takesHints = !model || model.hints; // until the model is known, assume it does
  $("hint-tools").hidden = !takesHints;
  showNote(takesHints ? "" : `The model ${model.name} was trained without color hints, so it picks every ` +
    "color itself; the hint tools are off.");
  if (takesHints && hints.unshown) showNote("This browser cannot show that file, so hints cannot be painted on it.");
  $("hint-tools").disabled = !toolsOn();
  $("undo").disabled = !hints.history.length;
  $("clear").disabled = $("save-hints").disabled = !hints.marks.length;
  $("brush-size").textContent = `${$("brush").value}%`;
  canvas.classList.toggle("paintable", toolsOn());
  canvas.classList.toggle("erasing", hints.tool === "eraser");
  requestRedraw();
}

function showNote(text) {
  $("hints-note").textContent = text;
  $("hints-note").hidden = !text;
}

function setMarks(marks, before = hints.marks) {
  // Every change goes through here (or undo): remember the old marks, redraw, colorize.
  hints.history.push(before);
  hints.marks = marks;
  changed();
}

function changed() {
  updateTools();
  scheduleColorize();
}

function undo() {
  if (!hints.history.length || hints.gesture) return;
  hints.marks = hints.history.pop();
  changed();
}

function clearHints() {
  if (hints.marks.length) setMarks([]);
}

function addMark(points) {
  const color = brushColor();
  setMarks([...hints.marks, { points, color, size: brushSize() }]);
  rememberColor(color);
}

function setTool(tool) {
  hints.tool = tool;
  $("tool-brush").setAttribute("aria-pressed", String(tool === "brush"));
  $("tool-eraser").setAttribute("aria-pressed", String(tool === "eraser"));
  updateTools();
}

function nudgeBrush(direction) {
  const brush = $("brush");
  const value = Number(brush.value) + direction * Number(brush.step);
  brush.value = String(Math.min(Number(brush.max), Math.max(Number(brush.min), value)));
  updateTools();
}

function distanceToSegment([px, py], [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const along = dx || dy ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(px - (ax + along * dx), py - (ay + along * dy));
}

function touches(mark, point, radius) {
  // Does a circle of `radius` canvas pixels at `point` touch the mark? (In canvas pixels, so a
  // non-square sketch's x and y count alike.)
  const side = Math.max(canvas.width, canvas.height);
  const at = toCanvas(point);
  const points = mark.points.map(toCanvas);
  const ends = points.length === 1 ? [[points[0], points[0]]] : points.slice(1).map((p, i) => [points[i], p]);
  return ends.some(([a, b]) => distanceToSegment(at, a, b) <= radius + (mark.size * side) / 2);
}

function erase(point) {
  // The eraser removes whole marks it touches (during a drag, without a history entry each time).
  const radius = (brushSize() * Math.max(canvas.width, canvas.height)) / 2;
  const kept = hints.marks.filter((mark) => !touches(mark, point, radius));
  if (kept.length !== hints.marks.length) hints.marks = kept;
}

function eraseOnce(point) {
  const before = hints.marks;
  erase(point);
  if (hints.marks !== before) setMarks(hints.marks, before);
}

// --- recent colors -----------------------------------------------------------------------
function rememberColor(color) {
  hints.recent = [color, ...hints.recent.filter((c) => c !== color)].slice(0, RECENT_COUNT);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(hints.recent));
  } catch (err) { /* storage off (private mode): the swatches last for this visit */ }
  showRecent();
}

function loadRecent() {
  try {
    const saved = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    hints.recent = saved.filter((c) => /^#[0-9a-f]{6}$/i.test(c)).slice(0, RECENT_COUNT);
  } catch (err) { /* none saved, or unreadable: start afresh */ }
  showRecent();
}

function showRecent() {
  $("recent").replaceChildren(...hints.recent.map((color) => {
    const swatch = document.createElement("button");
    swatch.type = "button";
    swatch.className = "swatch";
    swatch.style.backgroundColor = color; // CSSOM, which the page's Content-Security-Policy allows
    swatch.title = color;
    swatch.setAttribute("aria-label", `Use ${color}`);
    swatch.addEventListener("click", () => {
      $("color").value = color;
      setTool("brush");
    });
    return swatch;
  }));
}

// --- pointer and keyboard input on the canvas ---------------------------------------------
function pointerAt(event) {
  const box = canvas.getBoundingClientRect();
  const clamp = (value) => Math.min(1, Math.max(0, value)); // hints outside the page are refused
  return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
}

function farEnough(a, b) {
  const box = canvas.getBoundingClientRect();
  return Math.hypot((a[0] - b[0]) * box.width, (a[1] - b[1]) * box.height) >= MIN_STEP_PX;
}

function onPointerDown(event) {
  if (!toolsOn() || hints.gesture || event.button !== 0) return; // one pointer at a time, main button
  event.preventDefault(); // no text selection or compatibility mouse events, so focus by hand
  canvas.classList.add("pointer-focus"); // no keyboard focus ring for a click or a touch
  canvas.focus({ preventScroll: true }); // the arrow keys then go on from where the pointer was
  canvas.setPointerCapture(event.pointerId); // keep the stroke when the pointer leaves the canvas
  const point = pointerAt(event);
  hints.gesture = { pointerId: event.pointerId, points: [point], before: hints.marks };
  hints.cursor = point;
  if (hints.tool === "eraser") erase(point);
  requestRedraw();
}

function onPointerMove(event) {
  const gesture = hints.gesture;
  if (gesture && event.pointerId !== gesture.pointerId) return;
  // Coalesced events keep fast strokes smooth where the browser batches pointer moves.
  const events = gesture && event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const each of events.length ? events : [event]) {
    const point = pointerAt(each);
    hints.cursor = point;
    if (!gesture) continue;
    if (hints.tool === "eraser") erase(point);
    else if (farEnough(point, gesture.points[gesture.points.length - 1])) gesture.points.push(point);
  }
  requestRedraw();
}

function onPointerUp(event) {
  const gesture = hints.gesture;
  if (!gesture || event.pointerId !== gesture.pointerId) return;
  hints.gesture = null;
  if (hints.tool === "brush") addMark(gesture.points); // one point: a dot
  else if (hints.marks !== gesture.before) setMarks(hints.marks, gesture.before); // one undo step per drag
  if (event.pointerType !== "mouse") hints.cursor = null; // a finger or pen has left
  requestRedraw();
}

function onPointerCancel(event) {
  const gesture = hints.gesture;
  if (!gesture || event.pointerId !== gesture.pointerId) return;
  hints.gesture = null;
  hints.marks = gesture.before; // the browser took the gesture over: forget it
  hints.cursor = null;
  requestRedraw();
}

function onCanvasKey(event) {
  // The keyboard brush: arrows move it, Space or Enter drops a dot (or erases) where it is.
  if (!toolsOn() || event.ctrlKey || event.metaKey || event.altKey) return;
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const point = hints.cursor || [0.5, 0.5];
  if (moves[event.key]) {
    const step = KEY_STEP * (event.shiftKey ? 5 : 1);
    const clamp = (value) => Math.min(1, Math.max(0, value));
    hints.cursor = [clamp(point[0] + moves[event.key][0] * step), clamp(point[1] + moves[event.key][1] * step)];
    requestRedraw();
  } else if (event.key === " " || event.key === "Enter") {
    if (hints.tool === "brush") addMark([point]);
    else eraseOnce(point);
  } else {
    return;
  }
  event.preventDefault(); // arrows and Space would scroll the page
}

function onShortcut(event) {
  // Page-wide shortcuts, except while choosing from a list (where letters and Ctrl+Z mean other things).
  if (!toolsOn() || event.target.matches("select, textarea, input[type=text]")) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && key === "z") {
    event.preventDefault();
    undo();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = { b: () => setTool("brush"), e: () => setTool("eraser"), "[": () => nudgeBrush(-1),
    "]": () => nudgeBrush(1) };
  if (!actions[key]) return;
  event.preventDefault();
  actions[key]();
}

// --- hint files ----------------------------------------------------------------------------
const rounded = (value) => Math.round(value * 1e4) / 1e4; // 0.1 px on a 10,000 px page: plenty

function hintFile() {
  // The marks in the hint-file format (sketchcolor.hints): dots carry a radius, strokes a width.
  const dots = hints.marks.filter((mark) => mark.points.length === 1);
  const strokes = hints.marks.filter((mark) => mark.points.length > 1);
  return {
    units: "relative",
    points: dots.map(({ points: [[x, y]], color, size }) => ({ x: rounded(x), y: rounded(y), color,
      radius: rounded(size / 2) })),
    strokes: strokes.map(({ points, color, size }) => ({ points: points.map((p) => p.map(rounded)), color,
      width: rounded(size) })),
  };
}

function stem(name) {
  return name.replace(/\.[^.]*$/, "") || "sketch";
}

function saveHints() {
  if (hintsUrl) URL.revokeObjectURL(hintsUrl);
  hintsUrl = URL.createObjectURL(new Blob([JSON.stringify(hintFile(), null, 1)], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = hintsUrl;
  link.download = `${stem(current.name)}-hints.json`;
  link.click();
}

function hexColor(value, where) {
  if (typeof value === "string" && /^#[0-9a-f]{6}$/i.test(value)) return value.toLowerCase();
  if (typeof value === "string" && /^#[0-9a-f]{3}$/i.test(value)) return "#" + [...value.slice(1)].map((c) => c + c).join("").toLowerCase();
  if (Array.isArray(value) && value.length === 3 && value.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
    return "#" + value.map((v) => v.toString(16).padStart(2, "0")).join("");
  }
  throw new Error(`${where}.color must be "#rrggbb" or [r, g, b], not ${JSON.stringify(value)}`);
}

function marksFrom(data) {
  // A hint file's marks in the page's relative units; one sentence naming the first problem.
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error("it is not a JSON object with points and/or strokes");
  const units = data.units || "pixels";
  if (units !== "pixels" && units !== "relative") throw new Error(`units must be "pixels" or "relative", not ${JSON.stringify(units)}`);
  const [width, height] = units === "pixels" ? [hints.image.naturalWidth, hints.image.naturalHeight] : [1, 1];
  const side = Math.max(width, height);
  const number = (value, where) => {
    if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${where} must be a number`);
    return value;
  };
  const point = (x, y, where) => {
    const at = [number(x, where) / width, number(y, where) / height];
    if (at.some((v) => v < 0 || v > 1)) throw new Error(`${where} (${x}, ${y}) is outside the sketch`);
    return at;
  };
  const size = (value, fallback, where) => {
    if (!value) return fallback; // left out or 0: the hint-file default
    if (number(value, where) < 0) throw new Error(`${where} must not be negative`);
    return value / side;
  };
  const object = (item, where) => {
    if (!item || typeof item !== "object") throw new Error(`${where} must be an object`);
    return item;
  };
  const list = (key) => {
    if (data[key] !== undefined && !Array.isArray(data[key])) throw new Error(`${key} must be a list`);
    return data[key] || [];
  };
  const dots = list("points").map((dot, i) => object(dot, `points[${i}]`)).map((dot, i) => ({
    points: [point(dot.x, dot.y, `points[${i}]`)], color: hexColor(dot.color, `points[${i}]`),
    size: 2 * size(dot.radius, DOT_SIZE / 2, `points[${i}].radius`) }));
  const strokes = list("strokes").map((stroke, i) => {
    if (!Array.isArray(object(stroke, `strokes[${i}]`).points) || stroke.points.length < 2) {
      throw new Error(`strokes[${i}] needs 2 or more points`);
    }
    stroke.points.forEach((p, j) => {
      if (!Array.isArray(p) || p.length !== 2) throw new Error(`strokes[${i}].points[${j}] must be [x, y]`);
    });
    return { points: stroke.points.map((p, j) => point(p[0], p[1], `strokes[${i}].points[${j}]`)),
      color: hexColor(stroke.color, `strokes[${i}]`), size: size(stroke.width, STROKE_SIZE, `strokes[${i}].width`) };
  });
  return [...dots, ...strokes];
}

async function loadHints(file) {
  $("load-hints").value = ""; // so that loading the same file again fires `change`
  if (!toolsOn()) {
    setStatus("error", "Choose a sketch first, then load its hints.");
    return;
  }
  try {
    const marks = marksFrom(JSON.parse(await file.text()));
    setMarks(marks);
    marks.forEach((mark) => rememberColor(mark.color));
  } catch (err) {
    setStatus("error", `Could not load the hints from ${file.name}: ${err.message}`);
  }
}

// --- colorizing ------------------------------------------------------------------------------
async function explain(xhr) {
  // Turn an error reply into a sentence; the API's errors are JSON {error, status}.
  let message = `the server answered ${xhr.status}`;
  try {
    message = JSON.parse(await xhr.response.text()).error || message;
  } catch (err) { /* not JSON: keep the status */ }
  if (xhr.status === 503) {
    const wait = xhr.getResponseHeader("Retry-After") || "a few";
    return `The colorizer is busy. Try again in ${wait} seconds.`;
  }
  if (xhr.status === 413) return `Too large: ${message}`;
  if (xhr.status === 415) return `That file is not an image we can read: ${message}`;
  if (xhr.status === 422) return `The server could not use that: ${message}`;
  return `Something went wrong: ${message}`;
}

function colorize(file) {
  if (model && file.size > model.max_upload_bytes) {
    setStatus("error", `That file is ${megabytes(file.size)}; the limit is ${megabytes(model.max_upload_bytes)}.`);
    return;
  }
  current = file;
  showSketch(file);
  $("download").hidden = true;
  if (requests.xhr) requests.xhr.abort(); // its reply is for the previous sketch
  requests.xhr = null;
  colorizeNow();
}

function scheduleColorize() {
  // Hints change in bursts (a few clicks, a drag): colorize once they settle.
  if (!current) return;
  clearTimeout(requests.timer);
  requests.timer = setTimeout(colorizeNow, DEBOUNCE_MS);
  setStatus("working", "Colorizing…");
}

function colorizeNow() {
  clearTimeout(requests.timer);
  requests.timer = 0;
  if (!current) return;
  if (requests.xhr) {
    // One request at a time: the newest state is sent when this one ends, so replies arrive
    // in order and a burst of changes costs the server one more run, not one per change.
    requests.again = true;
    return;
  }
  requests.again = false;
  send(current, requestForm(current));
}

function requestForm(file) {
  const form = new FormData();
  form.append("file", file);
  form.append("lines", $("lines").value);
  if ($("size").value) form.append("size", $("size").value);
  form.append("clean", $("clean").checked ? "true" : "false");
  if (model && model.hints && hints.marks.length) {
    form.append("hints", JSON.stringify(hintFile()));
    if ($("close-gaps").checked) form.append("hint_gap", CLOSE_GAP);
  }
  return form;
}

function send(file, form) {
  const xhr = new XMLHttpRequest();
  const started = performance.now();
  const count = hints.marks.length;
  requests.xhr = xhr;
  xhr.open("POST", "/api/colorize");
  xhr.responseType = "blob";
  xhr.upload.onprogress = (event) => {
    if (!event.lengthComputable) return;
    $("progress").hidden = false;
    $("progress").value = Math.round((100 * event.loaded) / event.total);
    setStatus("working", `Uploading… ${$("progress").value}%`);
  };
  xhr.upload.onload = () => {
    $("progress").removeAttribute("value"); // indeterminate while the model works
    setStatus("working", "Colorizing…");
  };
  xhr.onload = async () => {
    requests.xhr = null;
    $("progress").hidden = true;
    if (xhr.status === 200) showResult(xhr.response, file.name, (performance.now() - started) / 1000, count);
    else setStatus("error", await explain(xhr));
    if (requests.again) colorizeNow();
  };
  xhr.onerror = () => {
    requests.xhr = null;
    $("progress").hidden = true;
    setStatus("error", "Could not reach the server. Is it still running?");
  };
  $("progress").hidden = false;
  $("progress").value = 0;
  setStatus("working", "Uploading…");
  xhr.send(form);
}

function busy() {
  return Boolean(requests.timer || requests.xhr);
}

function showResult(png, name, seconds, count) {
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(png);
  const result = $("result");
  result.onload = () => {
    if (busy()) return; // a newer result is on its way: stay "working" until it is shown
    const made = model && model.hints ? `, ${count} hint${count === 1 ? "" : "s"}` : "";
    setStatus("done", `Done in ${seconds.toFixed(1)} s. ${result.naturalWidth}×${result.naturalHeight} px${made}.`);
  };
  result.src = resultUrl;
  result.hidden = false;
  $("download").href = resultUrl;
  $("download").download = `${stem(name)}-colored.png`;
  $("download").hidden = false;
}

// --- wiring ----------------------------------------------------------------------------------
function isHintFile(file) {
  return file.type === "application/json" || /\.json$/i.test(file.name);
}

function pick(files) {
  if (!files || !files.length) return;
  if (isHintFile(files[0])) loadHints(files[0]); // a dropped hint file is for the sketch shown
  else colorize(files[0]);
}

$("file").addEventListener("change", (event) => pick(event.target.files));
const drop = $("drop");
["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
  event.preventDefault();
  drop.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  pick(event.dataTransfer.files);
});
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") $("file").click();
});
["lines", "size", "clean", "close-gaps"].forEach((id) => $(id).addEventListener("change", colorizeNow));

canvas.addEventListener("pointerdown", onPointerDown);
canvas.addEventListener("pointermove", onPointerMove);
canvas.addEventListener("pointerup", onPointerUp);
canvas.addEventListener("pointercancel", onPointerCancel);
canvas.addEventListener("pointerleave", () => {
  if (hints.gesture) return; // captured: the stroke goes on
  hints.cursor = null;
  requestRedraw();
});
canvas.addEventListener("keydown", onCanvasKey);
canvas.addEventListener("focus", () => {
  hints.cursor = hints.cursor || [0.5, 0.5];
  requestRedraw();
});
canvas.addEventListener("blur", () => {
  canvas.classList.remove("pointer-focus");
  hints.cursor = null;
  requestRedraw();
});
document.addEventListener("keydown", onShortcut);

$("color").addEventListener("input", () => setTool("brush")); // a new color is for painting
$("brush").addEventListener("input", updateTools);
$("tool-brush").addEventListener("click", () => setTool("brush"));
$("tool-eraser").addEventListener("click", () => setTool("eraser"));
$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearHints);
$("save-hints").addEventListener("click", saveHints);
$("load-hints-button").addEventListener("click", () => $("load-hints").click());
$("load-hints").addEventListener("change", (event) => event.target.files.length && loadHints(event.target.files[0]));

loadRecent();
updateTools();
loadModel();
