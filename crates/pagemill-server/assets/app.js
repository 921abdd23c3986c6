// pagemill's web page: upload, live progress (the job's SSE events, read with fetch so an
// API key can be sent), a Markdown preview, downloads and past jobs. No framework and no
// build step: the server embeds this file.
'use strict';

const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem('pagemill-key') || '';
let watching = null; // AbortController of the event stream shown

function authHeaders() {
  return apiKey ? { Authorization: 'Bearer ' + apiKey } : {};
}

async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...authHeaders(), ...(opts.headers || {}) } });
  if (res.status === 401) {
    $('key-section').hidden = false;
    $('api-key').focus();
    throw new Error('This server needs an API key.');
  }
  return res;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// --- Markdown (what pagemill writes: headings, paragraphs, lists, code, tables, figures) ---

function inline(text) {
  let s = esc(text);
  s = s.replace(/`([^`]+)`/g, '<code>$1</code>');
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  s = s.replace(/!\[([^\]]*)\]\(([^)\s]+)\)/g, (m, alt, src) =>
    /^(https?:|data:|javascript:)/i.test(src) ? esc(alt) : `<img alt="${alt}" data-src="${src}">`);
  s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" rel="noopener noreferrer">$1</a>');
  return s;
}

function renderMarkdown(md) {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let para = [];
  let list = null;
  const flushPara = () => { if (para.length) { out.push('<p>' + inline(para.join(' ')) + '</p>'); para = []; } };
  const flushList = () => { if (list) { out.push(`</${list}>`); list = null; } };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```/.test(line)) {
      flushPara(); flushList();
      const code = [];
      while (++i < lines.length && !/^```/.test(lines[i])) code.push(lines[i]);
      out.push('<pre><code>' + esc(code.join('\n')) + '</code></pre>');
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) { flushPara(); flushList(); out.push(`<h${h[1].length + 1}>${inline(h[2])}</h${h[1].length + 1}>`); continue; }
    if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      flushPara(); flushList();
      const cells = (l) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => inline(c.trim()));
      let html = '<table><thead><tr>' + cells(line).map((c) => `<th>${c}</th>`).join('') + '</tr></thead><tbody>';
      i += 1;
      while (i + 1 < lines.length && /^\s*\|.*\|\s*$/.test(lines[i + 1])) {
        i += 1;
        html += '<tr>' + cells(lines[i]).map((c) => `<td>${c}</td>`).join('') + '</tr>';
      }
      out.push(html + '</tbody></table>');
      continue;
    }
    const li = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (li) {
      flushPara();
      const kind = /\d/.test(li[1]) ? 'ol' : 'ul';
      if (list !== kind) { flushList(); out.push(`<${kind}>`); list = kind; }
      out.push('<li>' + inline(li[2]) + '</li>');
      continue;
    }
    if (/^\s*$/.test(line)) { flushPara(); flushList(); continue; }
    flushList();
    para.push(line.trim());
  }
  flushPara(); flushList();
  return out.join('\n');
}

// --- Downloads (through fetch, so the API key goes along) ---

async function blobUrl(path) {
  const res = await api(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

async function download(path, name) {
  const url = await blobUrl(path);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// --- A job: live progress, then its outputs ---

async function showOutputs(id) {
  const res = await api(`/v1/jobs/${id}/files`);
  if (!res.ok) return;
  const { files } = await res.json();
  const list = $('files-list');
  list.replaceChildren();
  for (const f of files) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary';
    b.textContent = `${f.name} (${Math.max(1, Math.round(f.size / 1024))} KB)`;
    b.addEventListener('click', () => download(f.url, f.name.split('/').pop()));
    li.append(b);
    list.append(li);
  }
  $('archive').onclick = () => download(`/v1/jobs/${id}/archive`, `${id}.zip`);
  const layout = files.find((f) => f.name.endsWith('.layouts.pdf'));
  $('layout').hidden = !layout;
  if (layout) $('layout').onclick = async () => window.open(await blobUrl(layout.url), '_blank', 'noopener');
  const md = files.find((f) => f.name.endsWith('.md') && !f.name.endsWith('.det.md'));
  const preview = $('preview');
  if (md) {
    const text = await (await api(md.url)).text();
    preview.innerHTML = renderMarkdown(text);
    const dir = md.name.includes('/') ? md.name.slice(0, md.name.lastIndexOf('/') + 1) : '';
    for (const img of preview.querySelectorAll('img[data-src]')) {
      blobUrl(`/v1/jobs/${id}/files/${dir}${img.dataset.src}`).then((u) => { img.src = u; }).catch(() => {});
    }
  } else {
    preview.textContent = '(no Markdown was asked for)';
  }
  $('outputs').hidden = false;
}

async function watch(id) {
  if (watching) watching.abort();
  const abort = new AbortController();
  watching = abort;
  $('job').hidden = false;
  $('job-id').textContent = id.slice(0, 8);
  $('job-state').textContent = 'queued';
  $('outputs').hidden = true;
  $('failures').replaceChildren();
  const progress = $('progress');
  progress.value = 0;
  progress.max = 1;
  let total = 0, ok = 0, failed = 0, first = null;
  const update = () => {
    const written = ok + failed;
    progress.max = Math.max(total, 1);
    progress.value = written;
    const secs = first ? (performance.now() - first) / 1000 : 0;
    const rate = secs > 0 ? (written / secs).toFixed(1) : '–';
    $('progress-text').textContent = `${written} of ${total} pages · ${rate} pages/s · ${failed} failed`;
  };
  const handle = (ev) => {
    switch (ev.event) {
      case 'file_started': total += ev.pages; break;
      case 'page':
        first = first || performance.now();
        if (ev.status === 'ok') ok += 1;
        else {
          failed += 1;
          const li = document.createElement('li');
          li.textContent = `${ev.file}, page ${ev.page}: ${ev.reason || 'failed'} — ${ev.message || ''}`;
          $('failures').append(li);
        }
        break;
      case 'file_finished':
        if (ev.error) {
          const li = document.createElement('li');
          li.textContent = `${ev.file}: ${ev.error}`;
          $('failures').append(li);
        }
        break;
      case 'state':
        $('job-state').textContent = ev.state + (ev.error ? `: ${ev.error}` : '');
        break;
      default: break;
    }
    update();
  };
  try {
    const res = await api(`/v1/jobs/${id}/events`, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    if (!res.ok) { $('job-state').textContent = `cannot follow the job (${res.status})`; return; }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const msg = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = msg.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (data) handle(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') $('progress-text').textContent = e.message;
    return;
  }
  if (watching === abort) {
    await showOutputs(id);
    refreshJobs();
  }
}

// --- Past jobs ---

async function refreshJobs() {
  let jobs;
  try {
    const res = await api('/v1/jobs?limit=50');
    ({ jobs } = await res.json());
  } catch (e) { return; }
  const body = $('jobs').tBodies[0];
  body.replaceChildren();
  for (const j of jobs) {
    const tr = document.createElement('tr');
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; tr.append(td); return td; };
    cell(j.id.slice(0, 8));
    cell(j.files.join(', '));
    cell(j.state);
    cell(`${j.pages.done + j.pages.failed}/${j.pages.total}`);
    const actions = cell('');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'secondary';
    open.textContent = 'Open';
    open.setAttribute('aria-label', `Open job ${j.id.slice(0, 8)}`);
    open.addEventListener('click', () => watch(j.id));
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'secondary';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete job ${j.id.slice(0, 8)}`);
    del.addEventListener('click', async () => {
      await api(`/v1/jobs/${j.id}`, { method: 'DELETE' });
      if ($('job-id').textContent === j.id.slice(0, 8)) $('job').hidden = true;
      refreshJobs();
    });
    actions.append(open, ' ', del);
    body.append(tr);
  }
}

// --- The form ---

$('upload-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const status = $('upload-status');
  const files = $('files').files;
  if (!files.length) { status.textContent = 'Choose at least one document.'; return; }
  const form = new FormData();
  for (const name of ['pages', 'ocr', 'lang']) {
    const v = $(name).value.trim();
    if (v && !(name === 'pages' && v === 'all')) form.append(name, v);
  }
  const formats = [...document.querySelectorAll('input[name=fmt]:checked')].map((c) => c.value);
  form.append('formats', formats.join(',') || 'md');
  for (const f of files) form.append('file', f, f.name);
  status.textContent = 'Uploading…';
  $('convert').disabled = true;
  try {
    const res = await api('/v1/jobs', { method: 'POST', body: form });
    const body = await res.json();
    if (res.status !== 202) { status.textContent = body.message || `Refused (${res.status})`; return; }
    status.textContent = `Job ${body.id.slice(0, 8)} queued.`;
    refreshJobs();
    watch(body.id);
  } catch (err) {
    status.textContent = err.message;
  } finally {
    $('convert').disabled = false;
  }
});

const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files.length) $('files').files = e.dataTransfer.files;
});

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey = $('api-key').value.trim();
  localStorage.setItem('pagemill-key', apiKey);
  $('key-section').hidden = true;
  refreshJobs();
});

$('refresh').addEventListener('click', refreshJobs);
refreshJobs();
