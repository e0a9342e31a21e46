// skinxai page: upload an image, show the diagnosis and CAM-family maps over the photo as it
// was taken. No build step, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
const METHODS_SHOWN = ["cam", "gradcam"];
const METHOD_NAMES = {
  cam: "CAM", gradcam: "Grad-CAM", "gradcam++": "Grad-CAM++", hirescam: "HiResCAM",
  xgradcam: "XGrad-CAM", layercam: "LayerCAM", eigencam: "Eigen-CAM", scorecam: "Score-CAM",
  "guided-backprop": "Guided backprop", "guided-gradcam": "Guided Grad-CAM",
};
let descriptions = {};
let modelInfo = {};
let lastFile = null;
let lastResult = null;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "";
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

function displayName(method) {
  return METHOD_NAMES[method] || method;
}

function showMethodHelp() {
  const method = $("method-select").value;
  $("method-help").textContent = method ? descriptions[method] || "" : "No third method.";
}

async function loadModelInfo() {
  try {
    const info = await fetchJson("/api/v1/model");
    modelInfo = info;
    descriptions = info.method_descriptions || {};
    $("model-version").textContent = info.version + (info.trained ? "" : " (untrained head)");
    $("intended-use").textContent = info.intended_use;
    $("what-you-see").textContent = info.what_you_are_looking_at || "";
    if (info.max_upload_mb) $("upload-limit").textContent = Math.floor(info.max_upload_mb);
    const select = $("method-select");
    const none = document.createElement("option");
    none.value = ""; none.textContent = "(none)";
    select.appendChild(none);
    for (const method of info.methods) {
      if (METHODS_SHOWN.includes(method) || method === "scorecam") continue;
      const option = document.createElement("option");
      option.value = method;
      option.textContent = displayName(method);
      option.title = descriptions[method] || "";
      select.appendChild(option);
    }
    showMethodHelp();
  } catch (error) {
    showError(`Cannot reach the model: ${error.message}`);
  }
}

function pointsText(n) {  // "1 point", "3 points"
  return `${n} point${n === 1 ? "" : "s"}`;
}

function pngSource(base64) {
  return "data:image/png;base64," + base64;
}

function figure(id, caption, description, baseAlt, heat, heatAlt) {
  // One panel: the photo with (optionally) a heat map stacked on it at the same frame.
  const element = document.createElement("figure");
  element.className = "panel";
  if (description) element.title = description;
  const stack = document.createElement("div");
  stack.className = "stack";
  const base = document.createElement("img");
  base.src = pngSource(lastResult.image_png);
  base.alt = baseAlt;
  base.className = "base";
  stack.appendChild(base);
  if (heat) {
    const overlay = document.createElement("img");
    overlay.id = id;
    overlay.src = pngSource(heat);
    overlay.alt = heatAlt;
    overlay.className = "heat";
    stack.appendChild(overlay);
  }
  element.appendChild(stack);
  const text = document.createElement("figcaption");
  text.textContent = caption;
  element.appendChild(text);
  return element;
}

function colourBar(className) {
  const legend = document.createElement("div");
  legend.className = "colour-bar";
  legend.setAttribute("role", "img");
  legend.setAttribute("aria-label",
    `Colour scale: blue is low and red is high evidence for ${className}, scaled per image`);
  legend.innerHTML = '<span>low</span><span class="gradient"></span><span>high</span>';
  const label = document.createElement("span");
  label.className = "colour-bar-label";
  label.textContent = `evidence for ${className} (scaled per image)`;
  legend.appendChild(label);
  return legend;
}

function group(heading, maps, idPrefix, withPhoto) {
  // A heading, a colour bar, the photo (first group only) and one panel per method, all for
  // one explained class.
  const section = document.createElement("section");
  section.className = "group";
  const className = maps[Object.keys(maps)[0]].target;
  const title = document.createElement("h3");
  title.textContent = heading;
  section.appendChild(title);
  section.appendChild(colourBar(className));
  const panels = document.createElement("div");
  panels.className = "panels";
  const size = lastResult.original_size;
  if (withPhoto) {
    panels.appendChild(figure(null, `photo (${size.width}x${size.height})`, "",
      `the uploaded photo, ${size.width} by ${size.height} pixels`, null, null));
  }
  for (const [method, result] of Object.entries(maps)) {
    const name = displayName(method);
    panels.appendChild(figure(`${idPrefix}${method}`, name, descriptions[method] || "", "",
      result.heatmap_png, `${name} heat map of the evidence for ${result.target}, over the photo`));
  }
  section.appendChild(panels);
  return section;
}

function thresholdText(result) {
  const point = modelInfo.operating_point;
  const confidence = point && point.confidence
    ? ` with ${Math.round(point.confidence * 100)}% confidence over lesions` : "";
  const goal = point
    ? `, chosen for ${point.goal} ≥ ${point.value}${confidence} on validation data` : "";
  return `${result.threshold.toFixed(3)}${goal}`;
}

function decisionNote(result) {
  // What "uncertain" means, with the band the model's config holds.
  if (result.decision !== "uncertain" || !result.uncertain_band) return "";
  const [low, high] = result.uncertain_band;
  const accuracy = modelInfo.calibration
    ? ` answers there were less than ${Math.round(
      modelInfo.calibration.target_accuracy_of_confident_answers * 100)}% accurate on validation data;`
    : "";
  return `P(malignant) lies in the uncertain band [${low.toFixed(3)}, ${high.toFixed(3)}):` +
    `${accuracy} the model does not decide. Decide clinically (e.g. dermatologist review or biopsy).`;
}

function render(result) {
  lastResult = result;
  const p = result.probabilities.malignant;
  $("label").textContent = result.decision;
  $("label").className = `label-${result.decision}`;
  $("p-malignant").textContent = p.toFixed(3);
  $("threshold").textContent = thresholdText(result);
  $("decision-note").textContent = decisionNote(result);
  $("decision-note").hidden = !$("decision-note").textContent;
  $("bar-fill").style.width = `${(p * 100).toFixed(1)}%`;
  $("bar").setAttribute("aria-valuenow", p.toFixed(3));
  $("photo-size").textContent =
    `${result.original_size.width}x${result.original_size.height} pixels`;
  $("model-version").textContent = result.model_version;
  const groups = $("groups");
  groups.replaceChildren();
  const byClass = result.explanations_by_class;
  if (byClass) {
    Object.entries(byClass).forEach(([className, maps], position) => {
      const note = className === result.label ? " (the predicted class)" : "";
      groups.appendChild(group(`Evidence for ${className}${note}`, maps,
        `overlay-${className}-`, position === 0));
    });
  } else {
    const explained = result.explanations[Object.keys(result.explanations)[0]].target;
    groups.appendChild(group(`Evidence for ${explained} (the predicted class)`,
      result.explanations, "overlay-", true));
  }
  $("checklist").replaceChildren();
  $("checklist").hidden = !result.concepts;
  if (result.concepts) $("checklist").appendChild(checklist(result.concepts));
  applyOpacity();
}

function checklist(concepts) {
  // "What a dermatologist would check": the seven criteria as the network reads them, each
  // openable as its concept map over the photo.
  const section = document.createElement("section");
  section.className = "group";
  const title = document.createElement("h3");
  title.textContent = "What a dermatologist would check (the 7-point checklist, read by the network)";
  section.appendChild(title);
  const total = document.createElement("p");
  total.id = "checklist-total";
  total.textContent = pointsText(concepts.total_points) +
    (concepts.suspicious ? ": 3 or more, suspicious for melanoma on the checklist" : ": below 3");
  section.appendChild(total);
  const list = document.createElement("ul");
  list.className = "criteria";
  for (const criterion of concepts.criteria) {
    const item = document.createElement("li");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const found = criterion.present ? "found" : "not found";
    summary.textContent = `${criterion.words}: ${found} (P ${criterion.probability.toFixed(2)}), ` +
      `${criterion.points} of ${pointsText(criterion.worth)}`;
    details.appendChild(summary);
    details.appendChild(figure(`concept-${criterion.name}`, `map of ${criterion.words}`, "",
      "", criterion.heatmap_png, `heat map of the evidence for ${criterion.words}, over the photo`));
    item.appendChild(details);
    list.appendChild(item);
  }
  section.appendChild(list);
  const note = document.createElement("p");
  note.className = "help";
  note.textContent = `These are ${concepts.note}.`;
  section.appendChild(note);
  return section;
}

async function analyse(file) {
  lastFile = file;
  $("error").hidden = true;
  $("status").textContent = `Analysing ${file.name}…`;
  const extra = $("method-select").value;
  const methods = METHODS_SHOWN.concat(extra ? [extra] : []);
  const query = new URLSearchParams({
    methods: methods.join(","), size: "original", include_overlay: "false",
    both_classes: $("both-classes").checked ? "true" : "false",
    concepts: modelInfo && modelInfo.concept_readers ? "true" : "false",
  });
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const result = await fetchJson(`/api/v1/explain?${query}`, { method: "POST", body: form });
    render(result);
    $("result").hidden = false;
    $("status").textContent = `Analysed ${file.name}: ${result.decision}.`;
  } catch (error) {
    $("result").hidden = true;
    showError(`Could not analyse ${file.name}: ${error.message}`);
  }
}

function applyOpacity() {
  const value = $("opacity").value;
  $("opacity").setAttribute("aria-valuetext", `${Math.round(value * 100)} percent`);
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
  $("method-select").addEventListener("change", () => {
    showMethodHelp();
    if (lastFile) analyse(lastFile);
  });
  $("both-classes").addEventListener("change", () => { if (lastFile) analyse(lastFile); });
  loadModelInfo();
}

setUp();
