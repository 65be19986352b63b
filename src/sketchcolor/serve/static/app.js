// The colorize page: pick or drop a sketch, upload it with progress, show and offer the PNG.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null; // GET /api/models: working size, size multiple, upload limits
let current = null; // the chosen File, kept so changing an option colorizes it again
let sketchUrl = null; // object URLs of the images shown, released when replaced
let resultUrl = null;

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
  } catch (err) {
    setStatus("error", "The server did not answer; is `sketchcolor serve` running?");
  }
}

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
  return `Something went wrong: ${message}`;
}

function colorize(file) {
  if (model && file.size > model.max_upload_bytes) {
    setStatus("error", `That file is ${megabytes(file.size)}; the limit is ${megabytes(model.max_upload_bytes)}.`);
    return;
  }
  current = file;
  if (sketchUrl) URL.revokeObjectURL(sketchUrl);
  sketchUrl = URL.createObjectURL(file);
  $("sketch").src = sketchUrl;
  $("sketch").hidden = false;
  $("download").hidden = true;
  const form = new FormData();
  form.append("file", file);
  form.append("lines", $("lines").value);
  if ($("size").value) form.append("size", $("size").value);

  const xhr = new XMLHttpRequest();
  const started = performance.now();
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
    $("progress").hidden = true;
    if (xhr.status !== 200) {
      setStatus("error", await explain(xhr));
      return;
    }
    showResult(xhr.response, file.name, (performance.now() - started) / 1000);
  };
  xhr.onerror = () => {
    $("progress").hidden = true;
    setStatus("error", "Could not reach the server. Is it still running?");
  };
  $("progress").hidden = false;
  $("progress").value = 0;
  setStatus("working", "Uploading…");
  xhr.send(form);
}

function showResult(png, name, seconds) {
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(png);
  $("result").onload = () => setStatus("done", `Done in ${seconds.toFixed(1)} s. ` +
    `${$("result").naturalWidth}×${$("result").naturalHeight} px.`);
  $("result").src = resultUrl;
  $("result").hidden = false;
  const stem = name.replace(/\.[^.]*$/, "") || "sketch";
  $("download").href = resultUrl;
  $("download").download = `${stem}-colored.png`;
  $("download").hidden = false;
}

function pick(files) {
  if (!files || !files.length) return;
  colorize(files[0]);
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
["lines", "size"].forEach((id) => $(id).addEventListener("change", () => current && colorize(current)));
loadModel();
