// The chat page: conversations kept in this browser (localStorage), replies streamed from
// /v1/chat/completions (server-sent events), a stop button, and each reply's speed.
"use strict";

const $ = (id) => document.getElementById(id);
const STORE = "rocmforge.chat";
const state = load();
let running = null;  // the AbortController of the reply being streamed

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE));
    if (saved && Array.isArray(saved.conversations)) return saved;
  } catch (e) { /* a damaged store starts over */ }
  return { conversations: [], current: null, settings: {} };
}
function save() { localStorage.setItem(STORE, JSON.stringify(state)); }

function current() {
  let c = state.conversations.find((x) => x.id === state.current);
  if (!c) {
    c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: "New chat", messages: [] };
    state.conversations.unshift(c);
    state.current = c.id;
  }
  return c;
}

// The settings inputs, restored and saved as they change.
const SETTINGS = ["system", "temperature", "top_p", "max_tokens", "api_key"];
function bindSettings() {
  for (const name of SETTINGS) {
    const input = $(name);
    if (state.settings[name] !== undefined) input.value = state.settings[name];
    input.addEventListener("change", () => { state.settings[name] = input.value; save(); });
  }
}

function renderList() {
  const list = $("conversations");
  list.replaceChildren();
  for (const c of state.conversations) {
    const li = document.createElement("li");
    li.className = c.id === state.current ? "current" : "";
    const title = document.createElement("span");
    title.textContent = c.title;
    const remove = document.createElement("button");
    remove.textContent = "×";
    remove.title = "Delete";
    remove.addEventListener("click", (e) => {
      e.stopPropagation();
      state.conversations = state.conversations.filter((x) => x !== c);
      if (state.current === c.id) state.current = state.conversations.length ? state.conversations[0].id : null;
      save(); renderAll();
    });
    li.append(title, remove);
    li.addEventListener("click", () => { if (!running) { state.current = c.id; save(); renderAll(); } });
    list.append(li);
  }
}

function messageElement(m) {
  const div = document.createElement("div");
  div.className = "message " + m.role + (m.error ? " error" : "");
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = m.role === "user" ? "You" : "Assistant";
  const body = document.createElement("div");
  body.className = "content";
  const stats = document.createElement("div");
  stats.className = "stats";
  div.append(role, body, stats);
  updateMessage(div, m);
  return div;
}
function updateMessage(div, m) {
  const body = div.querySelector(".content");
  if (m.role === "user") body.textContent = m.content;
  else body.innerHTML = renderMarkdown(m.content);  // renderMarkdown escapes the text first
  div.querySelector(".stats").textContent = m.stats || "";
}

function renderMessages() {
  const box = $("messages");
  box.replaceChildren(...current().messages.map(messageElement));
  box.scrollTop = box.scrollHeight;
}
function renderAll() { renderList(); renderMessages(); }

function setRunning(controller) {
  running = controller;
  $("send").hidden = !!controller;
  $("stop").hidden = !controller;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.settings.api_key) h.Authorization = "Bearer " + state.settings.api_key;
  return h;
}

function number(id) {
  const v = parseFloat($(id).value);
  return Number.isFinite(v) ? v : undefined;
}

async function send(text) {
  const c = current();
  if (c.messages.length === 0) c.title = text.slice(0, 40);
  c.messages.push({ role: "user", content: text });
  const reply = { role: "assistant", content: "" };
  c.messages.push(reply);
  save(); renderAll();
  const div = $("messages").lastElementChild;

  const system = $("system").value.trim();
  const messages = (system ? [{ role: "system", content: system }] : [])
    .concat(c.messages.slice(0, -1).filter((m) => !m.error).map((m) => ({ role: m.role, content: m.content })));
  const controller = new AbortController();
  setRunning(controller);
  const started = performance.now();
  let first = null, tokens = 0;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify({ messages, stream: true, stream_options: { include_usage: true },
                             temperature: number("temperature"), top_p: number("top_p"),
                             max_tokens: number("max_tokens") }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || "HTTP " + response.status);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) tokens = chunk.usage.completion_tokens;
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) {
            if (first === null) first = performance.now();
            if (!chunk.usage) tokens += 1;
            reply.content += delta.content;
            updateMessage(div, reply);
            $("messages").scrollTop = $("messages").scrollHeight;
          }
        }
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") { reply.error = true; reply.content += (reply.content ? "\n\n" : "") + "Error: " + e.message; }
  }
  const now = performance.now();
  const seconds = (now - (first !== null ? first : started)) / 1000;
  reply.stats = tokens + " tokens, " + (seconds > 0 ? (tokens / seconds).toFixed(1) : "–") + " tokens/s" +
                ", first token after " + (((first !== null ? first : now) - started) / 1000).toFixed(2) + " s" +
                (controller.signal.aborted ? " (stopped)" : "");
  updateMessage(div, reply);
  setRunning(null);
  save();
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text || running) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("stop").addEventListener("click", () => { if (running) running.abort(); });
$("new-chat").addEventListener("click", () => { if (!running) { state.current = null; current(); save(); renderAll(); } });

bindSettings();
current();
renderAll();
fetch("/v1/models", { headers: headers() }).then((r) => r.json()).then((j) => {
  if (j.data && j.data.length) $("model").textContent = "Model: " + j.data[0].id;
}).catch(() => {});
