// The study page: one sketch at a time, its colorings unnamed and in this participant's order.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "sketchcolor-study-participant"; // localStorage: a reload resumes the same session
const CRITERIA = ["naturalness", "saturation", "colorfulness"];
let participant = localStorage.getItem(KEY);
let current = null; // the item being rated: {item, images: [{token, src}], ...}

function setStatus(state, text) {
  document.body.dataset.state = state; // idle | rating | saving | finished | error
  $("status").textContent = text || "";
  $("status").className = state === "error" ? "error" : "";
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function start() {
  try {
    if (!participant) {
      participant = (await api("/api/study/participants", { method: "POST" })).participant;
      localStorage.setItem(KEY, participant);
    }
    await showNext();
  } catch (err) {
    if (err.status === 404 && participant && !err.message.startsWith("no study")) {
      localStorage.removeItem(KEY); // a session from another study: begin a new one
      participant = null;
      return start();
    }
    setStatus("error", `Could not start: ${err.message}`);
  }
}

async function showNext() {
  const next = await api(`/api/study/participants/${participant}/next`);
  $("intro").hidden = true;
  if (next.done) {
    $("task").hidden = true;
    $("finished").hidden = false;
    setStatus("finished", "");
    return;
  }
  current = next;
  $("task").hidden = false;
  $("counter").textContent = `Sketch ${next.answered + 1} of ${next.total}`;
  $("study-sketch").src = next.sketch;
  $("candidates").replaceChildren(...next.images.map(candidate));
  $("next").disabled = true;
  setStatus("rating", "");
  window.scrollTo(0, 0);
}

function candidate(image, index) {
  const letter = String.fromCharCode(65 + index);
  const card = document.createElement("fieldset");
  card.className = "candidate";
  card.dataset.token = image.token;
  const legend = document.createElement("legend");
  legend.textContent = `Coloring ${letter}`;
  const frame = document.createElement("div");
  frame.className = "frame";
  const img = document.createElement("img");
  img.src = image.src;
  img.alt = `coloring ${letter}`;
  frame.append(img);
  card.append(legend, frame, ...CRITERIA.map((criterion) => scale(image.token, criterion)));
  const pickLabel = document.createElement("label");
  pickLabel.className = "pick";
  const pickInput = document.createElement("input");
  Object.assign(pickInput, { type: "radio", name: "most-natural", value: image.token });
  pickLabel.append(pickInput, " the most natural");
  card.append(pickLabel);
  card.addEventListener("change", () => ($("next").disabled = !complete()));
  return card;
}

function scale(token, criterion) {
  const row = document.createElement("div");
  row.className = "scale";
  row.dataset.criterion = criterion;
  const name = document.createElement("span");
  name.textContent = criterion[0].toUpperCase() + criterion.slice(1);
  row.append(name);
  for (let score = 1; score <= 5; score++) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, { type: "radio", name: `${token}-${criterion}`, value: String(score) });
    label.append(input, String(score));
    row.append(label);
  }
  return row;
}

function chosen(name) {
  const input = document.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

function complete() {
  return current.images.every((image) => CRITERIA.every((c) => chosen(`${image.token}-${c}`)));
}

async function save() {
  const ratings = {};
  for (const image of current.images) {
    ratings[image.token] = Object.fromEntries(CRITERIA.map((c) => [c, Number(chosen(`${image.token}-${c}`))]));
  }
  const answer = { item: current.item, ratings, most_natural: chosen("most-natural") };
  $("next").disabled = true;
  setStatus("saving", "Saving…");
  try {
    await api(`/api/study/participants/${participant}/answers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(answer),
    });
  } catch (err) {
    if (err.status !== 409) { // 409: already saved (another tab): just go on
      $("next").disabled = false;
      setStatus("error", `Your answer was not saved: ${err.message}. Please try again.`);
      return;
    }
  }
  try {
    await showNext();
  } catch (err) {
    setStatus("error", `Could not load the next sketch: ${err.message}`);
  }
}

$("start").addEventListener("click", start);
$("next").addEventListener("click", save);
if (participant) $("start").textContent = "Continue where you left off";
