// skinxai page: upload an image, show the diagnosis and CAM-family overlays. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const METHODS_SHOWN = ["cam", "gradcam"];
let lastFile = null;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").hidden = true;
}

async function fetchJson(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const reason = body && body.detail ? body.detail : `HTTP ${response.status}`;
    throw new Error(`${reason} (${response.status})`);
  }
  return body;
}

async function loadModelInfo() {
  try {
    const info = await fetchJson("/api/v1/model");
    $("model-version").textContent = info.version + (info.trained ? "" : " (untrained head)");
    $("intended-use").textContent = info.intended_use;
    const select = $("method-select");
    const none = document.createElement("option");
    none.value = ""; none.textContent = "(none)";
    select.appendChild(none);
    for (const method of info.methods) {
      if (METHODS_SHOWN.includes(method) || method === "scorecam") continue;
      const option = document.createElement("option");
      option.value = method; option.textContent = method;
      select.appendChild(option);
    }
  } catch (error) {
    showError(`Cannot reach the model: ${error.message}`);
  }
}

function setOverlay(slot, png) {
  $(`base-${slot}`).src = "data:image/png;base64," + imageBase64;
  $(`overlay-${slot}`).src = "data:image/png;base64," + png;
}

let imageBase64 = null;

async function analyse(file) {
  lastFile = file;
  $("error").hidden = true;
  $("status").hidden = false;
  const extra = $("method-select").value;
  const methods = METHODS_SHOWN.concat(extra ? [extra] : []);
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const result = await fetchJson(`/api/v1/explain?methods=${methods.join(",")}`, {
      method: "POST", body: form,
    });
    imageBase64 = result.image_png;
    $("image").src = "data:image/png;base64," + imageBase64;
    const p = result.probabilities.malignant;
    $("label").textContent = result.label;
    $("label").className = `label-${result.label}`;
    $("p-malignant").textContent = p.toFixed(3);
    $("threshold").textContent = result.threshold.toFixed(2);
    $("bar-fill").style.width = `${(p * 100).toFixed(1)}%`;
    setOverlay("cam", result.explanations.cam.heatmap_png);
    setOverlay("gradcam", result.explanations.gradcam.heatmap_png);
    if (extra) {
      setOverlay("extra", result.explanations[extra].heatmap_png);
      $("extra-caption").textContent = extra;
      $("extra-figure").hidden = false;
    } else {
      $("extra-figure").hidden = true;
    }
    $("model-version").textContent = result.model_version;
    $("result").hidden = false;
    $("status").hidden = true;
    applyOpacity();
  } catch (error) {
    $("result").hidden = true;
    showError(`Could not analyse ${file.name}: ${error.message}`);
  }
}

function applyOpacity() {
  const value = $("opacity").value;
  for (const img of document.querySelectorAll("img.heat")) img.style.opacity = value;
}

function setUp() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (event) => {
    if (event.target.files.length) analyse(event.target.files[0]);
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) analyse(event.dataTransfer.files[0]);
  });
  $("opacity").addEventListener("input", applyOpacity);
  $("method-select").addEventListener("change", () => { if (lastFile) analyse(lastFile); });
  loadModelInfo();
}

setUp();
