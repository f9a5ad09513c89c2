// The Lingshu chat page: upload an image, ask, watch the answer stream.
//
// It speaks the server's OpenAI-compatible API only (POST /v1/chat/completions with
// stream: true), so what works here works for any OpenAI client. PNG and JPEG files are
// shown and sent as they are; anything else (DICOM and NIfTI above all, which browsers cannot
// display) goes through POST /ui/render first, and the PNG the server returns is both
// shown and sent, so the picture on screen is the picture the model sees.
// Model output is inserted as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  model: null,
  history: [],        // OpenAI messages sent so far
  pendingImage: null, // data URI attached to the next question
  busy: false,
};

function apiHeaders() {
  const headers = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers["Authorization"] = "Bearer " + key;
  return headers;
}

function setStatus(text, stateName) {
  const el = $("status");
  el.textContent = text;
  el.dataset.state = stateName;
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return "HTTP " + resp.status;
}

async function loadModel() {
  try {
    const health = await (await fetch("/health")).json();
    if (health.auth_required && !$("api-key").value) {
      $("settings").open = true;
      setStatus("This server needs an API key: enter it under Settings.", "idle");
    }
    const resp = await fetch("/v1/models", { headers: apiHeaders() });
    if (!resp.ok) { $("model-name").textContent = "(model list: " + (await errorMessage(resp)) + ")"; return; }
    const models = await resp.json();
    state.model = models.data[0].id;
    $("model-name").textContent = state.model;
  } catch (err) {
    $("model-name").textContent = "(server unreachable)";
  }
}

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function onImageChosen() {
  const file = $("image-input").files[0];
  if (!file) return;
  setStatus("Reading " + file.name + "…", "loading");
  try {
    let uri = await readAsDataURL(file);
    if (!(file.type === "image/png" || file.type === "image/jpeg")) {
      const resp = await fetch("/ui/render", {
        method: "POST", headers: apiHeaders(), body: JSON.stringify({ image: uri }),
      });
      if (!resp.ok) throw new Error(await errorMessage(resp));
      uri = (await resp.json()).image;
    }
    state.pendingImage = uri;
    const img = $("preview");
    img.onload = () => {
      $("preview-caption").textContent = file.name + " — " + img.naturalWidth + " × " + img.naturalHeight + " px";
    };
    img.src = uri;
    $("preview-box").hidden = false;
    $("clear-image").hidden = false;
    setStatus("Image ready: it goes with your next question.", "idle");
  } catch (err) {
    state.pendingImage = null;
    setStatus("Cannot use this image: " + err.message, "error");
  }
}

function clearImage() {
  state.pendingImage = null;
  $("image-input").value = "";
  $("preview").removeAttribute("src");
  $("preview-box").hidden = true;
  $("clear-image").hidden = true;
}

function addBubble(role, text, imageUri) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  if (imageUri) {
    const img = document.createElement("img");
    img.src = imageUri;
    img.alt = "image sent with this question";
    div.appendChild(img);
  }
  const span = document.createElement("span");
  span.className = "text";
  span.textContent = text;
  div.appendChild(span);
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return span;
}

// Parse server-sent events from a fetch() body; calls onData for every "data:" payload.
async function readEvents(resp, onData) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) onData(line.slice(6));
      }
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || state.busy) return;
  if (!state.model) await loadModel();
  const content = [];
  const image = state.pendingImage;
  if (image) content.push({ type: "image_url", image_url: { url: image } });
  content.push({ type: "text", text: question });
  const userMessage = { role: "user", content };
  addBubble("user", question, image);
  const answer = addBubble("assistant", "");
  state.busy = true;
  $("send").disabled = true;
  $("question").value = "";
  setStatus("Thinking…", "streaming");
  const body = {
    model: state.model,
    messages: state.history.concat([userMessage]),
    stream: true,
    max_tokens: parseInt($("max-tokens").value, 10) || 256,
    temperature: parseFloat($("temperature").value) || 0,
  };
  try {
    const resp = await fetch("/v1/chat/completions", {
      method: "POST", headers: apiHeaders(), body: JSON.stringify(body),
    });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    let failed = null;
    await readEvents(resp, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) { failed = chunk.error.message; return; }
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) {
          answer.textContent += choice.delta.content;
          $("messages").scrollTop = $("messages").scrollHeight;
        }
      }
    });
    if (failed) throw new Error(failed);
    state.history.push(userMessage, { role: "assistant", content: answer.textContent });
    if (image) state.pendingImage = null; // sent once; it stays in the history and on screen
    setStatus("Done.", "done");
  } catch (err) {
    answer.parentElement.classList.add("error");
    answer.textContent = err.message;
    setStatus("The request failed: " + err.message, "error");
  } finally {
    state.busy = false;
    $("send").disabled = false;
  }
}

function newConversation() {
  state.history = [];
  $("messages").replaceChildren();
  clearImage();
  setStatus("", "idle");
}

$("image-input").addEventListener("change", onImageChosen);
$("clear-image").addEventListener("click", clearImage);
$("ask-form").addEventListener("submit", ask);
$("new-chat").addEventListener("click", newConversation);
$("api-key").addEventListener("change", loadModel);
$("question").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
});
loadModel();
