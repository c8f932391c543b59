// net/console/app.js: the runnel console, one page app in plain JavaScript. It reads the
// broker's /v1 JSON (overview, topics, groups, plugins, processors), polls it once a
// second and turns running totals into rates itself. Every piece of data goes into the
// page as text nodes (never as HTML): record keys and values are whatever producers sent.
'use strict';

const POLL_MS = 1000;
const HISTORY = 60; // samples kept for charts (a minute at one a second)
const COLORS = ['#2563eb', '#0f9d58', '#e8710a', '#d93025', '#9334e6', '#12b5cb', '#f9ab00', '#5f6368'];

// ---- small helpers ---------------------------------------------------------------------

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

async function api(path, opts) {
  const res = await fetch(path, Object.assign({ headers: { Accept: 'application/json' } }, opts));
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text.trim() }; }
  if (!res.ok) {
    const err = new Error((body && body.error) || res.status + ' ' + res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

function post(path, form) {
  return api(path, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form || {}).toString(),
  });
}

const nf = new Intl.NumberFormat('en-US');
const num = (n) => (n === null || n === undefined ? '–' : nf.format(n));

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0) : String(Math.round(n))) + ' ' + u[i];
}

// A rate with the unit after it (unit '' for a bare number).
function rate(n, unit) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const v = n >= 100 ? nf.format(Math.round(n)) : n.toFixed(n >= 10 ? 1 : 2).replace(/\.?0+$/, '') || '0';
  return unit ? v + ' ' + unit : v;
}

// Bytes/s as MB/s, without the unit.
function mb(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const v = n / 1e6;
  return v >= 100 ? nf.format(Math.round(v)) : v.toFixed(v >= 10 ? 1 : 2);
}

function duration(ms) {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + (d || hh || m ? m + 'm ' : '') + s + 's';
}

function time(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  const d = new Date(ms);
  return isNaN(d) ? String(ms) : d.toISOString().replace('T', ' ').replace('Z', '');
}

const plural = (n, word) => num(n) + ' ' + word + (n === 1 ? '' : 's');

function card(label, value, sub, id) {
  return h('div', { class: 'card' }, h('div', { class: 'label', text: label }),
    h('div', { class: 'value', id: id, text: value, title: value }), sub ? h('div', { class: 'sub', text: sub, title: sub }) : null);
}

function table(columns, rows, opts = {}) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null, text: c.title }))));
  const tbody = h('tbody', {});
  if (!rows.length) tbody.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted', text: opts.empty || 'None.' })));
  for (const r of rows) {
    const tr = h('tr', { class: opts.rowClass ? opts.rowClass(r) : null });
    for (const c of columns) {
      const v = c.render ? c.render(r) : r[c.key];
      tr.append(h('td', { class: (c.num ? 'num ' : '') + (c.cls || '') }, v instanceof Node ? v : (c.num && typeof v === 'number' ? num(v) : v)));
    }
    tbody.append(tr);
  }
  return h('table', { class: opts.class, id: opts.id }, thead, tbody);
}

function badge(text, cls) { return h('span', { class: 'badge ' + (cls || ''), text }); }

// A rate from two samples of a running total; null until there are two, 0 when it went
// backwards (a reset).
function perSecond(prev, cur, key, tkey = 't') {
  if (!prev || !cur || prev[key] === undefined || cur[key] === undefined) return null;
  const dt = (cur[tkey] - prev[tkey]) / 1000;
  if (dt <= 0) return null;
  return Math.max(0, (cur[key] - prev[key]) / dt);
}

// ---- a line chart on a canvas ----------------------------------------------------------

// series: [{name, values: [number|null]}]; all the same length, oldest first, one a poll.
function drawChart(canvas, series, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 400, hgt = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  const css = getComputedStyle(document.body);
  const muted = css.getPropertyValue('--muted').trim() || '#888';
  const line = css.getPropertyValue('--line').trim() || '#ddd';
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = 4 * niceCeil(max / 4); // four round steps
  const left = 64, right = 8, top = 8, bottom = 20;
  const pw = w - left - right, ph = hgt - top - bottom;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + ph - (ph * i) / 4;
    ctx.strokeStyle = line;
    ctx.beginPath(); ctx.moveTo(left, Math.round(y) + 0.5); ctx.lineTo(w - right, Math.round(y) + 0.5); ctx.stroke();
    ctx.fillStyle = muted;
    ctx.textAlign = 'right';
    ctx.fillText(fmt((max * i) / 4), left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const n = HISTORY;
  for (const sec of [60, 45, 30, 15, 0]) {
    const x = left + pw * (1 - sec / n);
    ctx.fillText(sec ? '-' + sec + 's' : 'now', Math.min(x, w - right - 10), top + ph + 5);
  }
  series.forEach((s, si) => {
    ctx.strokeStyle = s.color || COLORS[si % COLORS.length];
    ctx.lineWidth = 1.8;
    ctx.beginPath();
    let started = false;
    const vals = s.values.slice(-n);
    const off = n - vals.length;
    vals.forEach((v, i) => {
      if (v === null) { started = false; return; }
      const x = left + (pw * (off + i)) / (n - 1);
      const y = top + ph - (max ? (ph * v) / max : 0);
      if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
    });
    ctx.stroke();
  });
}

function niceCeil(v) {
  if (v <= 0) return 0.25;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function chartBox(title, names, id) {
  const canvas = h('canvas', { id });
  const legend = h('div', { class: 'legend' }, names.map((n, i) => h('span', {}, h('i', { class: 'sw' + i }), n)));
  legend.querySelectorAll('i').forEach((el, i) => { el.style.background = COLORS[i % COLORS.length]; });
  return { el: h('div', { class: 'chart' }, h('div', { class: 'title', text: title }), legend, canvas), canvas };
}

// ---- state kept across pages -------------------------------------------------------------

const state = {
  overview: [], // samples {t, ...overview}
  lagHistory: new Map(), // group id -> {key -> [lag...]}
  procSamples: new Map(), // processor -> previous status sample
  luaSamples: [],
  actions: false,
};

let pageTimers = [];
function every(ms, fn) {
  let stopped = false, timer = null;
  const run = async () => {
    if (stopped) return;
    try {
      await fn();
      setStatus(null);
    } catch (e) {
      setStatus(e);
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  pageTimers.push(() => { stopped = true; clearTimeout(timer); });
}

function setStatus(err) {
  const el = $('#status');
  if (!el) return;
  if (err) {
    el.textContent = 'error: ' + err.message;
    el.className = 'status bad';
  } else {
    el.textContent = 'updated ' + new Date().toLocaleTimeString();
    el.className = 'status';
  }
}

// The overview is sampled all the time, whatever page is open: the header stays current,
// every page knows whether actions are on, and the charts have history when you come back.
async function sampleOverview() {
  const o = await api('/v1/overview');
  o.t = o.uptime_ms;
  const prev = state.overview[state.overview.length - 1];
  if (prev && o.t < prev.t) state.overview.length = 0; // the broker restarted
  state.overview.push(o);
  if (state.overview.length > HISTORY + 1) state.overview.shift();
  state.actions = !!o.actions_enabled;
  $('#broker').textContent = 'broker ' + o.broker_id + ' · runnel ' + o.version + ' · up ' + duration(o.uptime_ms);
  return o;
}

const sampleListeners = new Set();
async function sampler() {
  try {
    await sampleOverview();
    for (const f of sampleListeners) f();
    setStatus(null);
  } catch (e) {
    setStatus(e);
  }
  setTimeout(sampler, POLL_MS);
}

// Run fn after every overview sample while the page is open (and now, if there is one).
function onSample(fn) {
  sampleListeners.add(fn);
  pageTimers.push(() => sampleListeners.delete(fn));
  if (state.overview.length) fn();
}

// Records out move when groups commit (every few seconds for most clients): their rate is
// averaged over OUT_WINDOW samples so that it does not saw between zero and peaks.
const OUT_WINDOW = 5;

function overviewRates() {
  const s = state.overview;
  const series = { rin: [], rout: [], bin: [], bout: [] };
  for (let i = 0; i < s.length; i++) {
    const p = s[i - 1], c = s[i];
    if (!p) continue;
    series.rin.push(perSecond(p, c, 'records_in'));
    series.rout.push(perSecond(s[Math.max(0, i - OUT_WINDOW)], c, 'records_consumed'));
    series.bin.push(perSecond(p, c, 'bytes_in'));
    series.bout.push(perSecond(p, c, 'bytes_out'));
  }
  return series;
}

function actionsNote(what) {
  return h('p', { class: 'note', id: 'actions-off' },
    'Actions are off: ' + what + ' when the broker runs with http.console.actions.enable=true.');
}

// ---- pages ---------------------------------------------------------------------------------

const pages = {};

pages.overview = (main) => {
  main.append(h('h1', { text: 'Overview' }));
  const cards = h('div', { class: 'cards', id: 'overview-cards' });
  const c1 = chartBox('Records per second', ['in (produced)', 'out (committed by consumers, ' + OUT_WINDOW + ' s average)'], 'chart-records');
  const c2 = chartBox('MB per second', ['in (requests)', 'out (responses)'], 'chart-bytes');
  main.append(cards, h('div', { class: 'charts' }, c1.el, c2.el),
    h('h2', { text: 'Brokers' }), h('div', { id: 'brokers' }));
  onSample(() => {
    const o = state.overview[state.overview.length - 1];
    const r = overviewRates();
    const last = (a) => (a.length ? a[a.length - 1] : null);
    cards.replaceChildren(
      card('Records/s in', rate(last(r.rin), ''), 'produced', 'ov-rate-in'),
      card('Records/s out', rate(last(r.rout), ''), 'committed by consumers', 'ov-rate-out'),
      card('MB/s in', mb(last(r.bin)), 'Kafka requests', 'ov-mb-in'),
      card('MB/s out', mb(last(r.bout)), 'Kafka responses', 'ov-mb-out'),
      card('Records in', num(o.records_in), 'offsets assigned', 'ov-records-in'),
      card('Bytes in', bytes(o.bytes_in), 'out ' + bytes(o.bytes_out), 'ov-bytes-in'),
      card('Topics', num(o.topics), o.views ? o.views + ' view(s)' : null, 'ov-topics'),
      card('Partitions', num(o.partitions), null, 'ov-partitions'),
      card('Stored', bytes(o.log_size_bytes), num(o.records_stored) + ' records', 'ov-stored'),
      card('Consumer groups', num(o.groups), plural(o.group_members, 'member'), 'ov-groups'),
      card('Processors', num(o.processors), o.processors_running + ' running', 'ov-processors'),
      card('Connections', num(o.connections), num(o.requests) + ' requests', 'ov-connections'),
      card('Uptime', duration(o.uptime_ms), 'since ' + new Date(o.time_ms - o.uptime_ms).toLocaleString(), 'ov-uptime'),
    );
    drawChart(c1.canvas, [{ values: r.rin }, { values: r.rout }], (v) => rate(v, ''));
    drawChart(c2.canvas, [{ values: r.bin }, { values: r.bout }], mb);
    $('#brokers').replaceChildren(table(
      [{ title: 'Node', key: 'node_id' }, { title: 'Address', render: (b) => b.host + ':' + b.port },
        { title: 'Cluster', render: () => h('code', { text: o.cluster_id }) },
        { title: 'Role', render: () => 'leader of every partition' }],
      o.brokers || []));
  });
};

pages.topics = (main) => {
  main.append(h('h1', { text: 'Topics' }));
  const form = h('div', { id: 'create-topic' });
  const list = h('div', { id: 'topics' });
  main.append(list, form);
  let formShown = null;
  every(POLL_MS * 2, async () => {
    const t = await api('/v1/topics');
    list.replaceChildren(table([
      { title: 'Topic', render: (x) => h('a', { href: '#/topics/' + encodeURIComponent(x.name), text: x.name }) },
      { title: 'Partitions', key: 'partition_count', num: true },
      { title: 'Records', key: 'records', num: true },
      { title: 'Size', render: (x) => bytes(x.log_size_bytes), num: true },
      { title: 'Lua hooks', render: hookBadges },
    ], t.topics, { empty: 'No topics yet.', id: 'topics-table' }));
    if (formShown !== state.actions) {
      formShown = state.actions;
      form.replaceChildren(state.actions ? createTopicForm() : actionsNote('topics can be created here'));
    }
  });
};

function hookBadges(t) {
  const out = [];
  if (t.view_of) out.push(badge('view of ' + t.view_of, 'lua'));
  if (t.hooks.partitioner) out.push(badge('partitioner ' + t.hooks.partitioner, 'lua'));
  if (t.hooks.produce_filter) out.push(badge('produce filter ' + t.hooks.produce_filter, 'lua'));
  if (t.hooks.view_filter) out.push(badge('view filter ' + t.hooks.view_filter, 'lua'));
  return out.length ? h('span', {}, out) : h('span', { class: 'muted', text: '–' });
}

function createTopicForm() {
  const name = h('input', { placeholder: 'name', id: 'new-topic-name' });
  const parts = h('input', { type: 'number', min: 1, value: 1, id: 'new-topic-partitions' });
  const cfg = h('input', { placeholder: 'configs: key=value, ...', size: 40 });
  const msg = h('span', { class: 'muted' });
  const go = async () => {
    const form = { name: name.value.trim(), partitions: parts.value };
    for (const kv of cfg.value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = kv.indexOf('=');
      if (i > 0) form['config.' + kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
    }
    try {
      await post('/v1/topics', form);
      msg.className = 'muted';
      msg.textContent = 'created ' + form.name;
    } catch (e) {
      msg.className = 'error';
      msg.textContent = e.message;
    }
  };
  return h('div', {}, h('h2', { text: 'Create a topic' }),
    h('div', { class: 'toolbar' }, name, h('label', { class: 'inline' }, 'partitions', parts), cfg,
      h('button', { class: 'primary', onclick: go, text: 'Create' }), msg));
}

pages.topic = (main, name) => {
  main.append(h('h1', {}, h('a', { href: '#/topics', text: 'Topics' }), ' / ', name));
  const info = h('div', { id: 'topic-info' });
  const parts = h('div', { id: 'partitions' });
  const configs = h('div', { id: 'configs' });
  const browser = messageBrowser(name);
  main.append(info, h('h2', { text: 'Partitions' }), parts, h('h2', { text: 'Messages' }), browser.el,
    h('h2', { text: 'Configs' }), h('p', { class: 'muted', text: 'Lua hooks are highlighted; values set on the topic are bold.' }), configs);
  let first = true;
  every(POLL_MS * 2, async () => {
    const t = await api('/v1/topics/' + encodeURIComponent(name));
    info.replaceChildren(h('div', { class: 'cards' },
      card('Partitions', num(t.partition_count)), card('Records', num(t.records)),
      card('Size', bytes(t.log_size_bytes)), card('Topic id', t.topic_id),
      card('Lua hooks', null, null)));
    info.querySelector('.card:last-child .value').replaceChildren(hookBadges(t));
    parts.replaceChildren(table([
      { title: 'Partition', key: 'partition', num: true },
      { title: 'Leader', key: 'leader', num: true },
      { title: 'Epoch', key: 'leader_epoch', num: true },
      { title: 'Log start', key: 'log_start_offset', num: true },
      { title: 'High watermark', key: 'high_watermark', num: true },
      { title: 'Log end', key: 'log_end_offset', num: true },
      { title: 'Records', key: 'records', num: true },
      { title: 'Size', render: (p) => bytes(p.size_bytes), num: true },
    ], t.partitions, { id: 'partitions-table' }));
    configs.replaceChildren(table([
      { title: 'Config', render: (c) => h('code', { text: c.name }) },
      { title: 'Value', render: (c) => (c.value === null ? h('span', { class: 'muted', text: 'null' }) : c.value || h('span', { class: 'muted', text: '""' })) },
      { title: 'Source', key: 'source' },
      { title: '', render: (c) => (c.hook ? badge('Lua hook', 'lua') : '') },
      { title: 'Meaning', render: (c) => h('span', { class: 'muted', text: c.doc || '' }) },
    ], t.configs, { id: 'configs-table', rowClass: (c) => (c.hook ? 'hook' : '') + (c.default ? '' : ' set') }));
    browser.setPartitions(t.partitions);
    if (first) { first = false; browser.latest(); }
  });
};

// Read records at an offset or a time; value as text or pretty JSON.
function messageBrowser(topic) {
  const partition = h('select', { id: 'mb-partition' });
  const mode = h('select', { id: 'mb-mode' }, h('option', { value: 'latest', text: 'newest' }),
    h('option', { value: 'offset', text: 'from offset' }), h('option', { value: 'timestamp', text: 'from time' }));
  const at = h('input', { id: 'mb-at', placeholder: 'offset', size: 24 });
  const limit = h('input', { id: 'mb-limit', type: 'number', min: 1, max: 500, value: 20 });
  const asJson = h('input', { type: 'checkbox', id: 'mb-json', checked: true });
  const out = h('div', { id: 'mb-records' });
  const pager = h('div', { class: 'toolbar', id: 'mb-pager' });
  let parts = [], last = null;

  mode.addEventListener('change', () => {
    at.placeholder = mode.value === 'timestamp' ? 'YYYY-MM-DD HH:MM:SS (UTC) or ms' : 'offset';
    at.disabled = mode.value === 'latest';
  });
  at.disabled = true;
  asJson.addEventListener('change', () => last && render(last));

  function partInfo() { return parts.find((p) => String(p.partition) === partition.value) || parts[0]; }

  async function read(q) {
    const p = partInfo();
    const params = new URLSearchParams({ partition: p ? p.partition : 0, limit: limit.value || 20 });
    for (const [k, v] of Object.entries(q)) params.set(k, v);
    try {
      last = await api('/v1/topics/' + encodeURIComponent(topic) + '/records?' + params);
      render(last);
    } catch (e) {
      out.replaceChildren(h('p', { class: 'error', text: e.message }));
    }
  }

  function latest() {
    const p = partInfo();
    const n = Number(limit.value) || 20;
    read({ offset: p ? Math.max(p.log_start_offset, p.high_watermark - n) : 0 });
  }

  function go() {
    if (mode.value === 'latest') return latest();
    const v = at.value.trim();
    if (mode.value === 'offset') return read({ offset: v || '0' });
    let ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v.replace(' ', 'T') + (/[zZ+]/.test(v) ? '' : 'Z'));
    if (!isFinite(ms)) { out.replaceChildren(h('p', { class: 'error', text: 'not a time: ' + v })); return; }
    read({ timestamp: ms });
  }

  function render(r) {
    const rows = r.records;
    out.replaceChildren(table([
      { title: 'Offset', key: 'offset', num: true },
      { title: 'Timestamp', render: (x) => h('span', { class: 'mono', text: time(x.timestamp) }) },
      { title: 'Key', render: (x) => field(x, 'key', false) },
      { title: 'Value', cls: 'value', render: (x) => field(x, 'value', asJson.checked) },
      { title: 'Headers', render: (x) => headers(x.headers) },
    ], rows, { class: 'records', id: 'records-table', empty: 'No records here (log start ' + r.log_start_offset + ', high watermark ' + r.high_watermark + ').' }));
    const first = rows.length ? rows[0].offset : r.start_offset;
    pager.replaceChildren(
      h('button', { text: '← older', disabled: first <= r.log_start_offset, onclick: () => read({ offset: Math.max(r.log_start_offset, first - (Number(limit.value) || 20)) }) }),
      h('button', { text: 'newer →', disabled: r.next_offset >= r.high_watermark, onclick: () => read({ offset: r.next_offset }) }),
      h('span', { class: 'muted', text: 'offsets ' + r.start_offset + '…' + (r.next_offset - 1) + ' of ' + r.log_start_offset + '…' + (r.high_watermark - 1) }));
  }

  function field(x, name, pretty) {
    const v = x[name];
    if (v === null) return h('span', { class: 'muted', text: 'null' });
    const enc = x[name + '_encoding'];
    const parts = [];
    let text = v;
    if (enc === 'base64') parts.push(badge('base64'));
    else if (pretty) {
      const t = v.trim();
      if ((t.startsWith('{') || t.startsWith('[')) && !x[name + '_truncated']) {
        try { text = JSON.stringify(JSON.parse(t), null, 2); parts.push(badge('json')); } catch (e) { /* text */ }
      }
    }
    if (x[name + '_truncated']) parts.push(badge('first ' + bytes(v.length) + ' of ' + bytes(x[name + '_size']), 'warn'));
    return h('div', {}, parts, h('pre', { text }));
  }

  function headers(hs) {
    if (!hs.length) return h('span', { class: 'muted', text: '–' });
    return h('div', { class: 'headers' }, hs.map((x) => h('div', {}, h('code', { text: x.name }), ': ',
      x.value === null ? 'null' : (x.value_encoding === 'base64' ? '(base64) ' : '') + x.value)));
  }

  const el = h('div', {},
    h('div', { class: 'toolbar' }, h('label', { class: 'inline' }, 'partition', partition), mode, at,
      h('label', { class: 'inline' }, 'limit', limit),
      h('button', { class: 'primary', id: 'mb-read', text: 'Read', onclick: go }),
      h('label', { class: 'inline' }, asJson, 'pretty JSON')),
    out, pager);
  return {
    el,
    latest,
    setPartitions(ps) {
      parts = ps;
      if (partition.options.length !== ps.length) {
        const cur = partition.value;
        partition.replaceChildren(...ps.map((p) => h('option', { value: p.partition, text: String(p.partition) })));
        if (cur) partition.value = cur;
      }
    },
  };
}

pages.groups = (main) => {
  main.append(h('h1', { text: 'Consumer groups' }));
  const list = h('div', { id: 'groups' });
  main.append(list);
  every(POLL_MS, async () => {
    const g = await api('/v1/groups');
    list.replaceChildren(table([
      { title: 'Group', render: (x) => h('a', { href: '#/groups/' + encodeURIComponent(x.group_id), text: x.group_id }) },
      { title: 'State', render: (x) => stateBadge(x.state) },
      { title: 'Protocol', render: (x) => x.protocol_type || '–' },
      { title: 'Members', key: 'members', num: true },
      { title: 'Partitions', key: 'partitions', num: true },
      { title: 'Lag', key: 'lag', num: true },
    ], g.groups, { empty: 'No consumer groups yet.', id: 'groups-table' }));
  });
};

function stateBadge(s) {
  return badge(s, s === 'Stable' ? 'good' : s === 'Empty' || s === 'Dead' ? '' : 'warn');
}

pages.group = (main, id) => {
  main.append(h('h1', {}, h('a', { href: '#/groups', text: 'Consumer groups' }), ' / ', id));
  const info = h('div', { id: 'group-info' });
  const lag = chartBox('Lag per partition', [], 'chart-lag');
  const legend = lag.el.querySelector('.legend');
  const members = h('div', { id: 'members' });
  const offsets = h('div', { id: 'offsets' });
  const reset = h('div', { id: 'reset-offsets' });
  main.append(info, h('div', { class: 'charts' }, lag.el), h('h2', { text: 'Partitions' }), offsets,
    h('h2', { text: 'Members and assignments' }), members, reset);
  if (!state.lagHistory.has(id)) state.lagHistory.set(id, new Map());
  const hist = state.lagHistory.get(id);
  let formShown = null;
  every(POLL_MS, async () => {
    const g = await api('/v1/groups/' + encodeURIComponent(id));
    info.replaceChildren(h('div', { class: 'cards' },
      card('State', g.state, null, 'group-state'), card('Members', num(g.members.length)),
      card('Total lag', num(g.lag), null, 'group-lag'), card('Protocol', g.protocol || '–', g.protocol_type || null),
      card('Generation', num(g.generation_id))));
    const keys = new Set();
    for (const o of g.offsets) {
      const k = o.topic + '-' + o.partition;
      keys.add(k);
      if (!hist.has(k)) hist.set(k, []);
      const a = hist.get(k);
      a.push(o.lag);
      if (a.length > HISTORY) a.shift();
    }
    for (const [k, a] of hist) if (!keys.has(k)) { a.push(null); if (a.length > HISTORY) a.shift(); }
    const series = [...hist.entries()].slice(0, COLORS.length);
    legend.replaceChildren(...series.map(([k], i) => { const sw = h('i'); sw.style.background = COLORS[i]; return h('span', {}, sw, k); }));
    drawChart(lag.canvas, series.map(([, v]) => ({ values: v })), (v) => num(Math.round(v)));
    offsets.replaceChildren(table([
      { title: 'Topic', render: (o) => h('a', { href: '#/topics/' + encodeURIComponent(o.topic), text: o.topic }) },
      { title: 'Partition', key: 'partition', num: true },
      { title: 'Committed', key: 'committed_offset', num: true },
      { title: 'High watermark', key: 'high_watermark', num: true },
      { title: 'Lag', key: 'lag', num: true },
      { title: 'Owner', render: (o) => (o.member_id ? h('code', { text: o.member_id }) : h('span', { class: 'muted', text: '–' })) },
    ], g.offsets, { id: 'offsets-table', empty: 'Nothing committed or assigned.' }));
    members.replaceChildren(table([
      { title: 'Member', render: (m) => h('code', { text: m.member_id }) },
      { title: 'Client', render: (m) => (m.client_id || '') + (m.group_instance_id ? ' (static ' + m.group_instance_id + ')' : '') },
      { title: 'Host', key: 'client_host' },
      { title: 'Subscribed', render: (m) => (m.subscription ? m.subscription.join(', ') : '–') },
      { title: 'Assigned', render: (m) => (m.assignment ? m.assignment.map((a) => a.topic + ' [' + a.partitions.join(', ') + ']').join('; ') || 'nothing' : '–') },
    ], g.members, { id: 'members-table', empty: 'No members: the group is empty.' }));
    if (formShown !== state.actions) {
      formShown = state.actions;
      reset.replaceChildren(state.actions ? resetForm(id) : actionsNote('committed offsets can be reset here'));
    }
  });
};

function resetForm(id) {
  const topic = h('input', { placeholder: 'topic' });
  const part = h('input', { placeholder: 'partition (all)', size: 12 });
  const to = h('select', {}, ['earliest', 'latest', 'offset', 'timestamp'].map((v) => h('option', { value: v, text: v })));
  const at = h('input', { placeholder: 'offset or ms', size: 14 });
  const msg = h('span', { class: 'muted' });
  const go = async () => {
    const form = { topic: topic.value.trim() };
    if (part.value.trim()) form.partition = part.value.trim();
    if (to.value === 'timestamp') form.timestamp = at.value.trim();
    else form.offset = to.value === 'offset' ? at.value.trim() : to.value;
    try {
      await post('/v1/groups/' + encodeURIComponent(id) + '/offsets', form);
      msg.className = 'muted'; msg.textContent = 'offsets reset';
    } catch (e) {
      msg.className = 'error'; msg.textContent = e.message;
    }
  };
  return h('div', {}, h('h2', { text: 'Reset offsets' }),
    h('p', { class: 'muted', text: 'Only while the group has no members (stop its consumers first).' }),
    h('div', { class: 'toolbar' }, topic, part, to, at, h('button', { class: 'primary', onclick: go, text: 'Reset' }), msg));
}

pages.lua = (main) => {
  main.append(h('h1', { text: 'Lua' }));
  const cards = h('div', { class: 'cards', id: 'lua-cards' });
  const chart = chartBox('Hook calls per second', ['calls', 'errors'], 'chart-lua');
  const scripts = h('div', { id: 'lua-scripts' });
  const reload = h('div', { id: 'lua-reload' });
  main.append(cards, h('div', { class: 'charts' }, chart.el), h('h2', { text: 'Scripts in use' }), scripts, reload);
  let formShown = null;
  every(POLL_MS, async () => {
    const [p, t, ps] = await Promise.all([api('/v1/plugins'), api('/v1/topics'), api('/v1/processors').catch(() => ({ processors: [] }))]);
    p.t = performance.now();
    state.luaSamples.push(p);
    if (state.luaSamples.length > HISTORY + 1) state.luaSamples.shift();
    const s = state.luaSamples, calls = [], errors = [];
    for (let i = 1; i < s.length; i++) {
      calls.push(perSecond(s[i - 1], s[i], 'calls'));
      errors.push(perSecond(s[i - 1], s[i], 'errors'));
    }
    cards.replaceChildren(
      card('Hook calls', num(p.calls), rate(calls[calls.length - 1], 'a second'), 'lua-calls'),
      card('Errors', num(p.errors), rate(errors[errors.length - 1], 'a second'), 'lua-errors'),
      card('Budget exceeded', num(p.budget_exceeded), 'instruction limit'),
      card('Memory exceeded', num(p.memory_exceeded), 'memory limit'),
      card('Reloads', num(p.reloads), p.reload_failures + ' refused'),
      card('Time in Lua', p.seconds.toFixed(3) + ' s', p.calls ? (1e6 * p.seconds / p.calls).toFixed(1) + ' µs a call' : null));
    drawChart(chart.canvas, [{ values: calls }, { values: errors }], (v) => rate(v, ''));
    const rows = [];
    for (const x of t.topics) {
      if (x.hooks.partitioner) rows.push({ script: x.hooks.partitioner, hook: 'partitioner', where: x.name });
      if (x.hooks.produce_filter) rows.push({ script: x.hooks.produce_filter, hook: 'produce filter', where: x.name });
      if (x.hooks.view_filter) rows.push({ script: x.hooks.view_filter, hook: 'view filter', where: x.name + ' (view of ' + x.view_of + ')' });
    }
    for (const x of ps.processors) rows.push({ script: x.script, hook: 'processor', where: x.name, proc: true });
    scripts.replaceChildren(table([
      { title: 'Script', render: (r) => h('code', { text: r.script }) },
      { title: 'Hook', render: (r) => badge(r.hook, 'lua') },
      { title: 'Used by', render: (r) => (r.proc ? h('a', { href: '#/processors', text: r.where }) : h('a', { href: '#/topics/' + encodeURIComponent(r.where.split(' ')[0]), text: r.where })) },
    ], rows, { id: 'lua-table', empty: 'No topic or processor uses a Lua script.' }));
    if (formShown !== state.actions) {
      formShown = state.actions;
      reload.replaceChildren(state.actions ? reloadButton() : actionsNote('scripts can be reloaded from here'));
    }
  });
};

function reloadButton() {
  const msg = h('pre', { class: 'muted' });
  const go = async () => {
    try {
      const r = await post('/v1/plugins/reload');
      msg.className = 'muted'; msg.textContent = r.report || 'reloaded';
    } catch (e) {
      msg.className = 'error'; msg.textContent = e.message;
    }
  };
  return h('div', {}, h('h2', { text: 'Reload' }),
    h('div', { class: 'toolbar' }, h('button', { class: 'primary', id: 'lua-reload-button', onclick: go, text: 'Reload scripts' }),
      h('span', { class: 'muted', text: 'Re-reads every script in use; one that fails keeps its old version.' })), msg);
}

pages.processors = (main) => {
  main.append(h('h1', { text: 'Processors' }));
  const list = h('div', { id: 'processors' });
  const detail = h('div', { id: 'processor-positions' });
  main.append(list, h('h2', { text: 'Positions' }), detail);
  every(POLL_MS, async () => {
    const [ps, t] = await Promise.all([api('/v1/processors'), api('/v1/topics')]);
    const now = performance.now();
    const dlq = new Map(t.topics.map((x) => [x.name, x.records]));
    for (const p of ps.processors) {
      const prev = state.procSamples.get(p.name);
      const cur = { t: now, records_in: p.records_in, records_out: p.records_out };
      p.rate_in = perSecond(prev, cur, 'records_in');
      p.rate_out = perSecond(prev, cur, 'records_out');
      p.dlq = dlq.get(p.name + '.dlq');
      state.procSamples.set(p.name, cur);
    }
    list.replaceChildren(table([
      { title: 'Processor', render: (p) => h('strong', { text: p.name }) },
      { title: 'Status', render: (p) => badge(p.status, p.status === 'running' ? 'good' : p.status === 'failing' ? 'bad' : '') },
      { title: 'Script', render: (p) => h('code', { text: p.script }) },
      { title: 'Inputs → outputs', render: (p) => p.inputs.join(', ') + ' → ' + (p.outputs.join(', ') || '–') },
      { title: 'Lag', key: 'lag', num: true },
      { title: 'In/s', render: (p) => rate(p.rate_in, ''), num: true },
      { title: 'Out/s', render: (p) => rate(p.rate_out, ''), num: true },
      { title: 'Records in', key: 'records_in', num: true },
      { title: 'DLQ', render: (p) => (p.dlq === undefined ? '–' : h('a', { href: '#/topics/' + encodeURIComponent(p.name + '.dlq'), text: num(p.dlq) })), num: true },
      { title: 'Last error', render: (p) => (p.last_error ? h('span', { class: 'error', text: p.last_error }) : '–') },
      { title: '', render: (p) => (state.actions ? procButtons(p) : '') },
    ], ps.processors, { id: 'processors-table', empty: 'No stream processors.' }));
    const rows = [];
    for (const p of ps.processors) for (const x of p.positions) rows.push(Object.assign({ name: p.name }, x));
    detail.replaceChildren(table([
      { title: 'Processor', key: 'name' },
      { title: 'Input', render: (x) => x.topic + '-' + x.partition },
      { title: 'Position', key: 'position', num: true },
      { title: 'High watermark', key: 'high_watermark', num: true },
      { title: 'Lag', key: 'lag', num: true },
    ], rows, { id: 'positions-table' }));
    if (!state.actions && !$('#actions-off')) main.append(actionsNote('processors can be started and stopped here'));
  });
};

function procButtons(p) {
  const act = (what) => async () => {
    try { await post('/v1/processors/' + encodeURIComponent(p.name) + '/' + what); } catch (e) { setStatus(e); }
  };
  return p.status === 'stopped'
    ? h('button', { onclick: act('start'), text: 'Start' })
    : h('button', { onclick: act('stop'), text: 'Stop' });
}

// ---- routing -------------------------------------------------------------------------------

function route() {
  for (const stop of pageTimers) stop();
  pageTimers = [];
  const hash = location.hash.replace(/^#\/?/, '');
  const parts = hash.split('/').filter(Boolean).map(decodeURIComponent);
  let page = 'overview', arg;
  if (parts[0] === 'topics' && parts[1]) { page = 'topic'; arg = parts[1]; }
  else if (parts[0] === 'groups' && parts[1]) { page = 'group'; arg = parts[1]; }
  else if (pages[parts[0]] && parts[0] !== 'topic' && parts[0] !== 'group') page = parts[0];
  const nav = page === 'topic' ? 'topics' : page === 'group' ? 'groups' : page;
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === nav));
  const main = $('#main');
  main.replaceChildren();
  main.dataset.page = page;
  document.title = 'runnel · ' + (arg || page);
  pages[page](main, arg);
}

window.addEventListener('hashchange', route);
// The first sample before the first page: it knows then whether actions are on.
sampleOverview().catch(setStatus).finally(() => {
  route();
  setTimeout(sampler, POLL_MS);
});
