// podserve's chat playground: a conversation streamed from /v1/chat/completions (server-sent events), sampling
// settings, the request as curl and Python, token counts and speed per answer, model and engine info from
// /v1/models and /metrics. Plain DOM code, no framework, nothing loaded from elsewhere.
// Safety: model output and user text only ever reach the page as text nodes (textContent, append(string)); no
// HTML is parsed from them, and the page's Content-Security-Policy allows no inline script.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY_STORE = 'podserve.apiKey';        // only when "Remember in this browser" is ticked
const SETTINGS_STORE = 'podserve.settings';
const METRICS_PERIOD_MS = 5000;

const state = {
  apiKey: readStore(KEY_STORE) || '',  // kept in this variable; in localStorage only if asked to
  model: '',
  history: [],       // the conversation as sent: {role, content}, system prompt excluded
  chat: 0,           // which conversation: "New chat" starts another, so a stopped answer is not added to it
  controller: null,  // AbortController of the request in flight
  lastRequest: null,
  tab: 'curl',
};

function readStore(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}
function writeStore(key, value) {
  try {
    if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
  } catch (e) { /* storage disabled: settings last for this page only */ }
}

function authHeaders(extra) {
  const h = Object.assign({}, extra);
  if (state.apiKey) h.Authorization = 'Bearer ' + state.apiKey;
  return h;
}

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!isError);
}

// ---- model and engine info ----

async function loadModel() {
  let res;
  try {
    res = await fetch('/v1/models', {headers: authHeaders()});
  } catch (e) {
    $('model').textContent = 'server unreachable';
    return false;
  }
  if (res.status === 401) {
    $('model').textContent = 'API key needed';
    askKey(state.apiKey ? 'The key was not accepted.' : '');
    return false;
  }
  if (!res.ok) {
    $('model').textContent = 'GET /v1/models failed: ' + res.status;
    return false;
  }
  const card = (await res.json()).data[0];
  state.model = card.id;
  let text = card.id + ' · context ' + card.max_model_len + ' tokens';
  try {
    const version = await (await fetch('/version')).json();
    text += ' · podserve ' + version.version;
  } catch (e) { /* the version is decoration */ }
  $('model').textContent = text;
  $('max-tokens').max = card.max_model_len;
  $('forget-key').hidden = !state.apiKey;
  return true;
}

// Prometheus text → {name: sum over its series}, and request_success_total by finished_reason.
function parseMetrics(text) {
  const total = {};
  const finished = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    total[m[1]] = (total[m[1]] || 0) + value;
    const reason = /finished_reason="([^"]*)"/.exec(m[2] || '');
    if (reason) finished[reason[1]] = (finished[reason[1]] || 0) + value;
  }
  return {total, finished};
}

async function refreshMetrics() {
  if (document.hidden) return;
  let text;
  try {
    const res = await fetch('/metrics');
    if (!res.ok) return;
    text = await res.text();
  } catch (e) {
    return;
  }
  const {total, finished} = parseMetrics(text);
  const queries = total['vllm:prefix_cache_queries_total'] || 0;
  const hits = total['vllm:prefix_cache_hits_total'] || 0;
  $('engine').textContent = [
    'running ' + (total['vllm:num_requests_running'] || 0),
    'waiting ' + (total['vllm:num_requests_waiting'] || 0),
    'KV cache ' + (100 * (total['vllm:kv_cache_usage_perc'] || 0)).toFixed(1) + '%',
    'prefix-cache hits ' + (queries ? (100 * hits / queries).toFixed(0) + '%' : '–'),
    (total['vllm:generation_tokens_total'] || 0) + ' tokens generated',
    (finished.abort || 0) + ' aborted',
  ].join(' · ');
}

// ---- API key ----

function askKey(message) {
  $('key-error').textContent = message || '';
  if (!$('key-dialog').open) $('key-dialog').showModal();
  $('key-remember').checked = !!readStore(KEY_STORE);
  $('key-input').focus();
}

async function useKey(event) {
  event.preventDefault();
  state.apiKey = $('key-input').value.trim();
  writeStore(KEY_STORE, $('key-remember').checked ? state.apiKey : null);
  if (await loadModel()) {
    $('key-dialog').close();
    $('key-input').value = '';
    refreshMetrics();
    $('prompt').focus();
  }
}

function forgetKey() {
  state.apiKey = '';
  writeStore(KEY_STORE, null);
  location.reload();
}

// ---- settings ----

const SETTING_IDS = ['system', 'temperature', 'top-p', 'max-tokens', 'seed'];

function restoreSettings() {
  let saved = {};
  try { saved = JSON.parse(readStore(SETTINGS_STORE) || '{}'); } catch (e) { /* start from the defaults */ }
  for (const id of SETTING_IDS) {
    if (typeof saved[id] === 'string') $(id).value = saved[id];
  }
}

function saveSettings() {
  const values = {};
  for (const id of SETTING_IDS) values[id] = $(id).value;
  writeStore(SETTINGS_STORE, JSON.stringify(values));
}

// The request body: the server's model, the conversation, the settings; streamed with a usage chunk.
function buildRequest(text) {
  const messages = [];
  const system = $('system').value.trim();
  if (system) messages.push({role: 'system', content: system});
  messages.push(...state.history, {role: 'user', content: text});
  const body = {model: state.model, messages};
  const numbers = {temperature: 'temperature', top_p: 'top-p', max_tokens: 'max-tokens', seed: 'seed'};
  for (const [field, id] of Object.entries(numbers)) {
    if ($(id).value !== '') body[field] = Number($(id).value);
  }
  body.stream = true;
  body.stream_options = {include_usage: true};
  return body;
}

// ---- the request as curl and Python ----

// One message to a line: `{"role": "user", "content": "..."}` (JSON, and a Python literal as well).
function messageLines(messages, indent) {
  const lines = messages.map((m) => indent + '  {"role": ' + JSON.stringify(m.role) + ', "content": ' +
                                     JSON.stringify(m.content) + '}');
  return '[\n' + lines.join(',\n') + '\n' + indent + ']';
}

function curlText(body) {
  const fields = Object.entries(body).map(([k, v]) =>
    '  ' + JSON.stringify(k) + ': ' + (k === 'messages' ? messageLines(v, '  ') : JSON.stringify(v)));
  const json = ('{\n' + fields.join(',\n') + '\n}').replace(/'/g, "'\\''");
  const lines = ['curl -N ' + location.origin + '/v1/chat/completions \\', '  -H "Content-Type: application/json" \\'];
  if (state.apiKey) lines.push('  -H "Authorization: Bearer $PODSERVE_API_KEY" \\');
  lines.push("  -d '" + json + "'");
  return lines.join('\n');
}

function pythonText(body) {
  // JSON strings, numbers and lists are Python literals too.
  const args = ['    model=' + JSON.stringify(body.model) + ',',
                '    messages=' + messageLines(body.messages, '    ') + ','];
  for (const field of ['temperature', 'top_p', 'max_tokens', 'seed']) {
    if (field in body) args.push('    ' + field + '=' + body[field] + ',');
  }
  return [
    ...(state.apiKey ? ['import os', ''] : []),
    'from openai import OpenAI',
    '',
    'client = OpenAI(base_url="' + location.origin + '/v1", api_key=' +
        (state.apiKey ? 'os.environ["PODSERVE_API_KEY"]' : '"none"') + ')',
    'stream = client.chat.completions.create(',
    ...args,
    '    stream=True,',
    '    stream_options={"include_usage": True},',
    ')',
    'for chunk in stream:',
    '    if chunk.choices and chunk.choices[0].delta.content:',
    '        print(chunk.choices[0].delta.content, end="", flush=True)',
    'print()',
  ].join('\n');
}

function renderRequest() {
  for (const tab of ['curl', 'python']) $('tab-' + tab).setAttribute('aria-selected', String(state.tab === tab));
  if (!state.lastRequest) return;
  $('request-code').textContent = state.tab === 'curl' ? curlText(state.lastRequest) : pythonText(state.lastRequest);
}

async function copyRequest() {
  const text = $('request-code').textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {  // no clipboard API outside https/localhost: select the text instead
    const range = document.createRange();
    range.selectNodeContents($('request-code'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    setStatus('Selected: press Ctrl+C to copy.');
    return;
  }
  setStatus('Copied.');
}

// ---- the conversation ----

// A safe subset of Markdown: ``` fenced code, `inline code`, paragraphs. Built from text nodes only.
function renderContent(el, text) {
  el.replaceChildren();
  text.split('```').forEach((part, i) => {
    if (i % 2 === 1) {  // inside a fence; its first line names the language
      const newline = part.indexOf('\n');
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.textContent = newline >= 0 ? part.slice(newline + 1) : '';
      pre.append(code);
      el.append(pre);
      return;
    }
    for (const para of part.split(/\n{2,}/)) {
      const trimmed = para.replace(/^\n+|\n+$/g, '');
      if (!trimmed) continue;
      const p = document.createElement('p');
      trimmed.split('`').forEach((piece, j) => {
        if (j % 2 === 0) {
          p.append(piece);
        } else {
          const code = document.createElement('code');
          code.textContent = piece;
          p.append(code);
        }
      });
      el.append(p);
    }
  });
}

function addMessage(role, text) {
  const list = $('messages');
  const empty = list.querySelector('.empty');
  if (empty) empty.remove();
  const root = document.createElement('div');
  root.className = 'message ' + role;
  const who = document.createElement('div');
  who.className = 'who';
  who.textContent = role;
  const body = document.createElement('div');
  body.className = 'body';
  const stats = document.createElement('div');
  stats.className = 'stats';
  root.append(who, body, stats);
  list.append(root);
  renderContent(body, text);
  list.scrollTop = list.scrollHeight;
  return {root, body, stats};
}

// Renders at most once per frame while tokens stream in, keeping the view at the bottom if it was there.
function scheduleRender(view, getText) {
  if (view.pending) return;
  view.pending = requestAnimationFrame(() => {
    view.pending = 0;
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    renderContent(view.body, getText());
    if (atBottom) list.scrollTop = list.scrollHeight;
  });
}

async function* sseData(stream) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      if (data) yield data;
    }
  }
}

async function errorMessage(res) {
  try {
    const body = await res.json();
    return (body.error && body.error.message) || body.error || res.statusText;
  } catch (e) {
    return res.status + ' ' + res.statusText;
  }
}

function statsText(r) {
  const parts = [];
  const tokens = r.usage ? r.usage.completion_tokens : r.chunks;
  if (r.usage) parts.push(r.usage.prompt_tokens + ' prompt tokens', tokens + ' answer tokens');
  else if (tokens) parts.push('about ' + tokens + ' answer tokens');
  if (r.firstAt) parts.push('first token after ' + Math.round(r.firstAt - r.startAt) + ' ms');
  if (r.firstAt && tokens > 1 && r.endAt > r.firstAt) {
    parts.push((1000 * (tokens - 1) / (r.endAt - r.firstAt)).toFixed(1) + ' tokens/s');
  }
  parts.push(r.finish === 'stopped' ? 'stopped' : 'finish_reason: ' + r.finish);
  return parts.join(' · ');
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop').hidden = !busy;
}

async function send(text) {
  const body = buildRequest(text);
  const chat = state.chat;
  state.lastRequest = body;
  renderRequest();
  addMessage('user', text);
  const view = addMessage('assistant', '');
  view.root.classList.add('streaming');
  view.root.setAttribute('aria-busy', 'true');  // screen readers read the answer once it is complete
  const r = {content: '', usage: null, finish: null, chunks: 0, error: null, startAt: performance.now()};
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  setStatus('');
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: authHeaders({'Content-Type': 'application/json'}),
      body: JSON.stringify(body), signal: controller.signal,
    });
    if (!res.ok) {
      r.error = await errorMessage(res);
      if (res.status === 401) askKey('The key was not accepted.');
    } else {
      for await (const data of sseData(res.body)) {
        if (data === '[DONE]') break;
        const chunk = JSON.parse(data);
        if (chunk.error) {
          r.error = chunk.error.message;
          break;
        }
        if (chunk.usage) r.usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          if (choice.delta && choice.delta.content) {
            r.firstAt = r.firstAt || performance.now();
            r.content += choice.delta.content;
            r.chunks++;
            scheduleRender(view, () => r.content);
          }
          if (choice.finish_reason) r.finish = choice.finish_reason;
        }
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') r.finish = 'stopped'; else r.error = String(e.message || e);
  }
  r.endAt = performance.now();
  if (view.pending) cancelAnimationFrame(view.pending);
  state.controller = null;
  setBusy(false);
  view.root.classList.remove('streaming');
  view.root.removeAttribute('aria-busy');
  if (r.error) {
    view.root.classList.add('error');
    renderContent(view.body, r.error);
    view.stats.textContent = 'not added to the conversation';
  } else {
    renderContent(view.body, r.content);
    view.stats.textContent = statsText(r);
    if (chat === state.chat) state.history.push({role: 'user', content: text}, {role: 'assistant', content: r.content});
  }
  view.root.dataset.finish = r.error ? 'error' : r.finish;  // for scripts and tests: the answer is complete
  setTimeout(refreshMetrics, 300);  // once the engine has counted the request as finished
}

function stop() {
  if (state.controller) state.controller.abort();  // closes the connection: the server aborts the request
}

function newChat() {
  stop();
  state.chat++;
  state.history = [];
  $('messages').replaceChildren();
  setStatus('');
  $('prompt').focus();
}

function submit(event) {
  event.preventDefault();
  const text = $('prompt').value.trim();
  if (!text || state.controller) return;
  $('prompt').value = '';
  send(text);
}

// ---- wiring ----

document.addEventListener('DOMContentLoaded', async () => {
  restoreSettings();
  $('composer').addEventListener('submit', submit);
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) submit(e);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.controller) stop();
  });
  $('stop').addEventListener('click', stop);
  $('new-chat').addEventListener('click', newChat);
  $('forget-key').addEventListener('click', forgetKey);
  $('key-form').addEventListener('submit', useKey);
  $('tab-curl').addEventListener('click', () => { state.tab = 'curl'; renderRequest(); });
  $('tab-python').addEventListener('click', () => { state.tab = 'python'; renderRequest(); });
  $('copy').addEventListener('click', copyRequest);
  for (const id of SETTING_IDS) $(id).addEventListener('input', saveSettings);
  if (await loadModel()) refreshMetrics();
  setInterval(refreshMetrics, METRICS_PERIOD_MS);
  if (!$('key-dialog').open) $('prompt').focus();
});
