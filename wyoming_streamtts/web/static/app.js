// The voices page: plain JavaScript, every URL relative (it works under Home Assistant's ingress prefix).
"use strict";

const CSRF = document.querySelector("meta[name=csrf-token]").content;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("streamtts-token") || "";
if (document.querySelector("meta[name=token-needed]").content === "true" && !token) $("token-box").hidden = false;

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function notice(text, error = false) {
  $("notice").textContent = text;
  $("notice").className = error ? "error" : "";
}

// A JSON API call; changes carry the CSRF token (and the access token when the server asks for one).
async function api(path, options = {}) {
  const headers = { "X-CSRF-Token": CSRF, ...(options.headers || {}) };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return { status: response.status, body };
}

$("token-save").addEventListener("click", () => {
  token = $("token").value.trim();
  sessionStorage.setItem("streamtts-token", token);
  $("token-box").hidden = true;
  notice("Token set");
});

// --- Speaking: the WAV stream is played as it arrives, then kept in the audio element -------------------------
let audioContext = null;

async function speak(voice, text) {
  audioContext = audioContext || new AudioContext();
  await audioContext.resume();
  const started = performance.now();
  const query = new URLSearchParams({ text });
  if (voice) query.set("voice", voice);
  const response = await fetch("api/speak?" + query.toString());
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error((body.error && body.error.message) || response.statusText);
  }
  const reader = response.body.getReader();
  const parts = [];
  let header = null, rate = 24000, playAt = 0, firstAudio = null, pending = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let bytes = concat(pending, value);
    if (!header) {
      if (bytes.length < 44) { pending = bytes; continue; }
      header = bytes.slice(0, 44);
      rate = new DataView(header.buffer).getUint32(24, true);
      bytes = bytes.slice(44);
    }
    const usable = bytes.length - (bytes.length % 2);
    pending = bytes.slice(usable);
    if (!usable) continue;
    const pcm = bytes.slice(0, usable);
    parts.push(pcm);
    if (firstAudio === null) firstAudio = performance.now() - started;
    playAt = schedule(pcm, rate, playAt);
  }
  const wav = new Blob([wavHeader(parts.reduce((n, p) => n + p.length, 0), rate), ...parts], { type: "audio/wav" });
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(wav);
  player.dataset.requestId = response.headers.get("X-Request-Id") || "";
  return { id: response.headers.get("X-Request-Id"), firstAudioMs: firstAudio };
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function schedule(pcm, rate, playAt) {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
  const buffer = audioContext.createBuffer(1, samples.length, rate);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
  const source = audioContext.createBufferSource();
  source.buffer = buffer;
  source.connect(audioContext.destination);
  const at = Math.max(playAt, audioContext.currentTime + 0.05);
  source.start(at);
  return at + buffer.duration;
}

function wavHeader(dataBytes, rate) {
  const view = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + dataBytes, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, dataBytes, true);
  return view.buffer;
}

async function showFigures(id, firstAudioMs) {
  const list = $("try-figures");
  list.replaceChildren();
  const { body } = await api("api/requests/" + encodeURIComponent(id));
  const rows = [
    ["First audio", firstAudioMs === null ? "none" : `${Math.round(firstAudioMs)} ms here, ` +
      `${Math.round((body.first_audio_s || 0) * 1000)} ms at the server`],
    ["Real-time factor", body.rtf === null ? "-" : body.rtf.toFixed(2) + (body.rtf < 1 ? " (faster than real time)" : "")],
    ["Audio", body.audio_s.toFixed(1) + " s"],
    ["Engine", body.engines.join(", ") || "-"],
    ["Voice", body.voice],
    ["Spoken text", body.sentences.map((s) => s.text).join(" ")],
    ["Translation", body.sentences.some((s) => s.translation)
      ? body.sentences.map((s) => s.translation || "-").join(", ") : "off"],
  ];
  for (const [name, value] of rows) list.append(el("dt", name), el("dd", value));
}

$("try-speak").addEventListener("click", async () => {
  $("try-speak").disabled = true;
  try {
    const { id, firstAudioMs } = await speak($("try-voice").value, $("try-text").value);
    await showFigures(id, firstAudioMs);
    notice("");
  } catch (err) {
    notice("Not spoken: " + err.message, true);
  } finally {
    $("try-speak").disabled = false;
    loadStatus();
  }
});

// --- Voices ------------------------------------------------------------------------------------------------------
async function loadVoices() {
  const { body } = await api("api/voices");
  const picker = $("try-voice");
  const chosen = picker.value;
  picker.replaceChildren();
  const groups = $("voice-groups");
  groups.replaceChildren();
  for (const [engine, languages] of Object.entries(body.groups)) {
    // An engine with few languages is shown open; eSpeak NG's hundred stay folded.
    const group = el("details", null, Object.keys(languages).length <= 8 ? { open: "" } : {});
    group.append(el("summary", engine));
    const optgroup = el("optgroup", null, { label: engine });
    for (const [language, voices] of Object.entries(languages)) {
      const inLanguage = el("details");
      inLanguage.append(el("summary", `${language} (${voices.length})`));
      const list = el("ul", null, { class: "voices" });
      for (const voice of voices) {
        const play = el("button", "▶ Play", { type: "button", "data-voice": voice.name, class: "play" });
        play.addEventListener("click", () => playSample(play, voice));
        const item = el("li");
        item.append(play, el("span", voice.name, { class: "name" }), el("span", voice.description));
        list.append(item);
        optgroup.append(el("option", `${voice.name} — ${voice.description}`, { value: voice.name }));
      }
      inLanguage.append(list);
      group.append(inLanguage);
    }
    groups.append(group);
    picker.append(optgroup);
  }
  picker.value = chosen || body.default;
  showCloned(body.cloned);
  showPiper(body.piper);
}

async function playSample(button, voice) {
  button.disabled = true;
  try {
    const { id, firstAudioMs } = await speak(voice.name, `Hello! This is ${voice.description.split(" (")[0]}.`);
    await showFigures(id, firstAudioMs);
  } catch (err) {
    notice(`${voice.name} did not speak: ${err.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function showCloned(cloned) {
  const box = $("cloned");
  box.replaceChildren(el("h3", `Cloned voices (${cloned.length})`));
  const list = el("ul", null, { class: "voices" });
  for (const voice of cloned) {
    const item = el("li", null, { "data-cloned": voice.name });
    item.append(el("span", voice.name, { class: "name" }),
      el("span", voice.state === "ready" ? (voice.languages.join(" ") || "all languages") : "being prepared…"));
    if (voice.state === "ready") {
      const rename = el("button", "Rename", { type: "button", class: "rename" });
      rename.addEventListener("click", () => change(voice.name, "rename"));
      const describe = el("button", "Languages", { type: "button", class: "languages" });
      describe.addEventListener("click", () => change(voice.name, "languages", voice));
      const remove = el("button", "Delete", { type: "button", class: "delete" });
      remove.addEventListener("click", () => change(voice.name, "delete"));
      item.append(rename, describe, remove);
    }
    list.append(item);
  }
  box.append(list);
}

async function change(name, what, voice) {
  try {
    if (what === "rename") {
      const to = prompt(`New name for ${name}`, name);
      if (!to || to === name) return;
      await api(`api/cloned/${encodeURIComponent(name)}/rename`, jsonBody("POST", { name: to }));
    } else if (what === "languages") {
      const languages = prompt(`Languages of ${name} (empty: all)`, voice.languages.join(" "));
      if (languages === null) return;
      await api(`api/cloned/${encodeURIComponent(name)}`, jsonBody("PUT", {
        languages: languages.split(/[\s,]+/).filter(Boolean), description: voice.description || "" }));
    } else {
      if (!confirm(`Delete ${name}: its recording, its languages and its cached voice?`)) return;
      await api(`api/cloned/${encodeURIComponent(name)}`, { method: "DELETE" });
    }
    notice(`${name}: done`);
  } catch (err) {
    notice(`${name}: ${err.message}`, true);
  }
  await loadVoices();
}

function jsonBody(method, data) {
  return { method, body: JSON.stringify(data), headers: { "Content-Type": "application/json" } };
}

function showPiper(files) {
  const list = $("piper-files");
  list.replaceChildren();
  for (const file of files) {
    const item = el("li", null, { "data-piper": file.file });
    const remove = el("button", "Delete", { type: "button" });
    remove.addEventListener("click", async () => {
      if (!confirm(`Delete the Piper voice ${file.file}?`)) return;
      try {
        await api("api/piper/" + encodeURIComponent(file.file), { method: "DELETE" });
        notice(`${file.file} deleted`);
      } catch (err) {
        notice(err.message, true);
      }
      await loadVoices();
    });
    item.append(el("span", file.file, { class: "name" }), el("span", file.voices.join(", ")), remove);
    list.append(item);
  }
}

$("piper-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  form.append("model", $("piper-model").files[0]);
  form.append("config", $("piper-config").files[0]);
  try {
    const { body } = await api("api/piper", { method: "POST", body: form });
    notice("Piper voice added: " + body.voices.join(", "));
  } catch (err) {
    notice("Piper voice not added: " + err.message, true);
  }
  await loadVoices();
});

// --- Adding a cloned voice -----------------------------------------------------------------------------------------
let recorded = null;
let recorder = null;

$("record").addEventListener("click", async () => {
  if (recorder && recorder.state === "recording") {
    recorder.stop();
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      recorded = new Blob(chunks, { type: recorder.mimeType });
      $("record").textContent = "Record again";
      $("record-state").textContent = `Recorded (${Math.round(recorded.size / 1024)} kB): listen to it; it is ` +
        "checked when added";
      preview(recorded);
    };
    recorder.start();
    $("record").textContent = "Stop";
    $("record-state").textContent = "Recording… read a few sentences aloud, then press Stop";
  } catch (err) {
    notice("The microphone cannot be used: " + err.message, true);
  }
});

// What was recorded or chosen, to listen to before adding it.
function preview(blob) {
  const player = $("preview");
  if (player.src) URL.revokeObjectURL(player.src);
  player.hidden = !blob;
  if (blob) player.src = URL.createObjectURL(blob);
}

$("add-file").addEventListener("change", () => preview($("add-file").files[0]));

$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  const file = $("add-file").files[0];
  if (file) form.append("audio", file);
  else if (recorded) form.append("audio", recorded, "recording.webm");
  else return notice("Choose a recording, or record one", true);
  form.append("name", $("add-name").value);
  form.append("languages", $("add-languages").value);
  form.append("description", $("add-description").value);
  const notes = $("add-notes");
  notes.replaceChildren();
  $("add-progress").textContent = `Checking the recording of ${$("add-name").value}…`;
  $("add-progress").className = "";
  $("add-submit").disabled = true;
  try {
    const { body } = await api("api/cloned", { method: "POST", body: form });
    for (const note of body.notes) notes.append(el("li", note));
    $("add-form").reset();
    recorded = null;
    preview(null);
    $("record").textContent = "Record";
    $("record-state").textContent = "";
    await follow(body.id);
  } catch (err) {
    $("add-progress").textContent = "Not added: " + err.message;
    $("add-progress").className = "error";
  } finally {
    $("add-submit").disabled = false;
  }
});

// The voice is prepared in the background (XTTS computes its latents): its progress, until it is ready.
async function follow(id) {
  const progress = $("add-progress");
  progress.className = "";
  for (;;) {
    const { body } = await api("api/jobs/" + encodeURIComponent(id));
    if (body.state === "preparing") {
      progress.textContent = `Preparing ${body.name}… ${body.seconds} s`;
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    progress.textContent = body.state === "ready" ? body.message : `${body.name} not added: ${body.message}`;
    progress.className = body.state === "ready" ? "ready" : "error";
    await loadVoices();
    return;
  }
}

// --- Status ----------------------------------------------------------------------------------------------------------
// --- Pronunciations: one lexicon per language --------------------------------------------------------------------
async function loadLexicons() {
  const { body } = await api("api/lexicon");
  const select = $("lexicon-language");
  const chosen = select.value;
  select.replaceChildren(...body.languages.map(({ code, name }) =>
    el("option", body.with_lexicon.includes(code) ? `${name} (${code}) ✓` : `${name} (${code})`, { value: code })));
  if (chosen) select.value = chosen;
  await showLexicon();
}

async function showLexicon() {
  const language = $("lexicon-language").value;
  if (!language) return;
  const { body } = await api("api/lexicon/" + encodeURIComponent(language));
  $("lexicon-text").value = body.text;
  $("lexicon-state").textContent = "";
}

$("lexicon-language").addEventListener("change", () => showLexicon().catch((err) => notice(err.message, true)));
$("lexicon-save").addEventListener("click", async () => {
  const language = $("lexicon-language").value;
  try {
    const { body } = await api("api/lexicon/" + encodeURIComponent(language),
      jsonBody("PUT", { text: $("lexicon-text").value }));
    $("lexicon-state").textContent = `Saved: ${body.entries} ${body.entries === 1 ? "entry" : "entries"}`;
    $("lexicon-state").className = "";
  } catch (err) {
    $("lexicon-state").textContent = err.message;  // the line that is wrong; the text stays for fixing
    $("lexicon-state").className = "error";
  }
});

async function loadStatus() {
  const { body } = await api("api/status");
  const list = $("status-list");
  list.replaceChildren();
  const engines = body.engines.map((e) => e.description + (e.up ? ` (${e.up})` : "")).join(" → ");
  const rows = [["Engines", engines], ["Device", body.device],
    ["Translation", body.translator ? "NLLB on " + body.translator : "off"],
    ["Voices", `${body.voices} voices of ${body.speakers} speakers (${body.cloned} cloned) in ${body.languages} languages`],
    ["Connections", `${body.connections} open of ${body.max_connections}`]];
  for (const [name, why] of Object.entries(body.unavailable)) rows.push([`${name} unavailable`, why]);
  for (const [name, value] of rows) list.append(el("dt", name), el("dd", value));
  drawChart(body.recent.filter((r) => r.first_audio_s !== null));
}

function drawChart(recent) {
  const svg = $("chart");
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const shape = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    svg.append(node);
    return node;
  };
  const top = Math.max(0.5, ...recent.map((r) => r.first_audio_s));
  const width = 400 / Math.max(recent.length, 10);
  shape("line", { x1: 0, x2: 400, y1: 60, y2: 60, class: "line" });  // real-time factor 1
  recent.forEach((r, i) => {
    const height = (r.first_audio_s / top) * 110;
    shape("rect", { x: i * width + 1, y: 120 - height, width: width - 2, height, class: "bar" })
      .append(Object.assign(document.createElementNS(ns, "title"),
        { textContent: `${r.voice}: first audio ${Math.round(r.first_audio_s * 1000)} ms` }));
    if (r.rtf !== null) shape("circle", { cx: i * width + width / 2, cy: 120 - Math.min(r.rtf, 2) * 60, r: 3, class: "dot" });
  });
}

loadVoices().catch((err) => notice("Voices not read: " + err.message, true));
loadStatus().catch((err) => notice("Status not read: " + err.message, true));
loadLexicons().catch((err) => notice("Pronunciations not read: " + err.message, true));
setInterval(() => loadStatus().catch(() => {}), 10000);
