// The lab console's page: hash-routed views over the console's JSON API (see lab/console/app.py).
// Everything from the API is put into the page with textContent / DOM nodes, never as HTML:
// trace data carries CSR subjects an attacker chose.

const SVGNS = 'http://www.w3.org/2000/svg';
const $ = (sel, root = document) => root.querySelector(sel);
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'type', 'placeholder']);

function build(el, props, kids) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k) && !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
const h = (tag, props, ...kids) => build(document.createElement(tag), props, kids);
const s = (tag, props, ...kids) => build(document.createElementNS(SVGNS, tag), props, kids);

// ---------------------------------------------------------------- helpers

async function api(path, { method = 'GET', body } = {}) {
  const opts = { method, headers: {} };
  if (method !== 'GET') opts.headers['X-Lab-Console'] = '1';
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    let detail = data && data.detail !== undefined ? data.detail : `${res.status} ${res.statusText}`;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join('; ');
    else if (typeof detail !== 'string') detail = JSON.stringify(detail);
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return data;
}

let noticeTimer = null;
function notice(text, kind = 'error') {
  const box = $('#notice');
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, kind === 'error' ? 30000 : 6000);
  if (!box.hidden && box.className === kind && box.firstChild?.textContent === text) return;
  box.replaceChildren(
    h('span', { class: 'notice-text', text }),
    h('button', { class: 'notice-close', title: 'dismiss', 'aria-label': 'dismiss', onclick: () => { box.hidden = true; } }),
  );
  box.className = kind;
  box.hidden = false;
}
const fail = (err) => notice(err.message || String(err));

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 19);
}

function tone(word) {
  const w = String(word ?? '').toLowerCase();
  if (/^(ok|issued|installed|passed|active|up|success|healthy|compliant|managed)\b/.test(w)) return 'good';
  if (/refused|error|fail|denied|revoked|unreachable|down|expired|mismatch|noncompliant/.test(w)) return 'bad';
  if (/pending|running|retire|warn/.test(w)) return 'warn';
  return 'neutral';
}
const pill = (text, extra = '') => (text === null || text === undefined || text === ''
  ? h('span', { class: 'null', text: '—' }) : h('span', { class: `pill ${tone(text)} ${extra}`.trim(), text }));
const mono = (text, title) => h('span', { class: 'mono', text: text ?? '', title });
const empty = (text) => h('p', { class: 'empty', text });

// Replace a table's rows, flashing those whose text changed since the last refresh.
function fillRows(tbody, rows, keyOf) {
  const before = new Map([...tbody.rows].map((r) => [r.dataset.key, r.textContent]));
  tbody.replaceChildren(...rows);
  for (const r of rows) {
    r.dataset.key = keyOf(r);
    if (before.size && before.get(r.dataset.key) !== r.textContent) r.classList.add('changed');
  }
}

function table(id, headers, cls = '') {
  const tbody = h('tbody');
  const el = h('table', { id, class: `grid ${cls}`.trim() },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { text: t })))), tbody);
  return { el, tbody };
}

function setDetail(...kids) {
  $('#detail').replaceChildren(...kids);
}
const hint = (text) => setDetail(h('p', { class: 'hint', text }));

// The decoded payload: nested objects as indented key/value lists, arrays as lists.
function kv(obj, cls = 'kv') {
  const dl = h('dl', { class: cls });
  for (const [k, v] of Object.entries(obj)) {
    const nested = v && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length);
    dl.append(h('dt', { class: nested ? 'nested' : null, text: k }),
      h('dd', { class: nested ? 'nested' : null }, value(v)));
  }
  return dl;
}
function value(v) {
  if (v === null || v === undefined) return h('span', { class: 'null', text: '—' });
  if (Array.isArray(v)) {
    return v.length ? h('ul', { class: 'arr' }, v.map((x) => h('li', {}, value(x)))) : h('span', { class: 'null', text: '[ ]' });
  }
  if (typeof v === 'object') return Object.keys(v).length ? kv(v) : h('span', { class: 'null', text: '{ }' });
  return h('span', { class: `v-${typeof v}`, text: String(v) });
}

// ---------------------------------------------------------------- shared state

const lab = { info: null, health: [] };
const runs = new Map(); // run id -> run object
const runMessages = new Map(); // run id -> [{text, ok}]
let activeRun = null; // id of the run going on
let shownRun = null; // id of the run the scenarios view shows

let current = { name: null }; // the view shown: {name, cleanup, onTrace, onRun, onHealth}
let routeToken = 0;

// ---------------------------------------------------------------- header: lab, health, stream

async function loadLab() {
  try {
    lab.info = await api('/api/lab');
    const t = lab.info.tenant;
    $('#lab-info').textContent = [t ? `${t.name} (${t.domain})` : 'no tenant', `policy: ${lab.info.policy}`,
      lab.info.data_dir].filter(Boolean).join(' · ');
  } catch (err) { $('#lab-info').textContent = `lab console · ${err.message}`; }
}

async function refreshHealth() {
  const strip = $('#health');
  try {
    lab.health = (await api('/api/health')).parties;
    strip.replaceChildren(...lab.health.map((p) => h('span', {
      class: `hp ${p.up ? 'up' : 'down'}`, 'data-party': p.id, title: `${p.name}: ${p.up ? 'up' : 'down'} · ${p.detail} · ${p.url}`,
    }, h('i', { class: 'dot' }), p.id)));
    current.onHealth?.(lab.health);
  } catch (err) {
    strip.replaceChildren(h('span', { class: 'hp down', title: err.message }, h('i', { class: 'dot' }), 'console unreachable'));
  }
}

function connectStream() {
  const es = new EventSource('/api/stream');
  const live = $('#live');
  es.onopen = () => { live.className = 'live on'; live.title = 'live event stream: connected'; };
  es.onerror = () => { live.className = 'live off'; live.title = 'live event stream: reconnecting…'; };
  es.addEventListener('trace', (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    const msg = ev.message; // "ndes → ca submit: ok ISSUED", or null (a sent event that arrived)
    if (activeRun && msg) runMessages.get(activeRun)?.push(msg);
    current.onTrace?.(ev, msg);
  });
  es.addEventListener('run', (e) => {
    let run;
    try { run = JSON.parse(e.data); } catch { return; }
    noteRun(run);
    current.onRun?.(run);
  });
}

function noteRun(run) {
  runs.set(run.id, run);
  if (!runMessages.has(run.id)) runMessages.set(run.id, []);
  if (run.state === 'running') activeRun = run.id;
  else if (activeRun === run.id) activeRun = null;
}

// ---------------------------------------------------------------- router

const VIEWS = {};

function route() {
  const path = location.hash.replace(/^#\/?/, '');
  let [name, ...rest] = path.split('/');
  let param = rest.length ? rest.join('/') : null;
  try { param = param && decodeURIComponent(param); } catch { /* keep it as typed */ }
  if (!Object.hasOwn(VIEWS, name) || (name === 'tx' && !param)) name = 'trust';
  current.cleanup?.();
  const token = ++routeToken;
  const nav = name === 'tx' ? 'transactions' : name;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.view === nav);
    if (a.dataset.view === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const view = $('#view');
  view.replaceChildren();
  view.className = `view-${name}`;
  setDetail();
  current = { name };
  const alive = () => token === routeToken;
  Object.assign(current, VIEWS[name](view, param, alive) || {});
}

// ---------------------------------------------------------------- 1. trust map

VIEWS.trust = (view, _param, alive) => {
  view.append(h('div', { class: 'view-head' }, h('h2', { text: 'Trust map' }),
    h('p', { class: 'lede', text: 'Who holds which key, and who trusts what. Issuers sit above the certificates they signed.' })));
  const mapBox = h('div', { class: 'card map-card' }, h('p', { class: 'loading', text: 'Loading…' }));
  const parties = h('div', { class: 'parties' });
  view.append(mapBox, h('h3', { class: 'section', text: 'Parties' }), parties);
  hint('Click a certificate to see its fields.');
  let data = null;
  let selected = null;

  function select(id) {
    const cert = data.certificates.find((c) => c.id === id);
    if (!cert) return;
    selected = id;
    for (const g of mapBox.querySelectorAll('g.cert')) g.classList.toggle('selected', g.dataset.cert === id);
    const holder = data.parties.find((p) => p.id === cert.held_by);
    const trusted = data.trust.filter((t) => t.anchor === id).map((t) => data.parties.find((p) => p.id === t.party)?.name ?? t.party);
    setDetail(h('div', { class: 'cert-detail' },
      h('h3', { text: cert.name }),
      h('p', { class: 'purpose', text: cert.purpose }),
      h('dl', { class: 'fields' },
        field('Subject', mono(cert.subject)),
        field('Issuer', mono(cert.issuer), cert.issuer_id === 'unknown' ? h('em', { text: ' (not a lab certificate)' }) : null),
        field('Serial', mono(cert.serial)),
        field('Valid from', fmtTime(cert.not_before)),
        field('Valid to', fmtTime(cert.not_after), ' ', cert.expired ? pill('expired') : pill('valid', 'good')),
        field('SHA-256', mono(cert.sha256)),
        field('Key', cert.key),
        field('CA', cert.ca ? 'yes' : 'no'),
        field('EKUs', cert.ekus?.length ? cert.ekus.join(', ') : '—'),
        field('SANs', cert.sans?.length ? h('ul', { class: 'plain' }, cert.sans.map((x) => h('li', {}, mono(x)))) : '—'),
        field('Held by', holder ? holder.name : cert.held_by || '—'),
        field('Trusted by', trusted.length ? trusted.join(', ') : '—'),
        field('Purpose', cert.purpose))));
  }

  function draw() {
    const width = Math.max(mapBox.clientWidth - 32, 600);
    const svg = trustMap(data.certificates, width, select);
    mapBox.replaceChildren(svg, h('div', { class: 'legend' },
      h('span', { class: 'key ca' }, 'CA certificate'), h('span', { class: 'key ee' }, 'end-entity'),
      h('span', { class: 'key expired' }, 'expired'), h('span', { class: 'key unknown' }, 'issuer not in the lab')));
    if (selected) select(selected);
    parties.replaceChildren(...data.parties.map(partyCard));
  }

  function partyCard(p) {
    const held = data.certificates.filter((c) => c.held_by === p.id);
    const trusts = data.trust.filter((t) => t.party === p.id);
    const certName = (id) => data.certificates.find((c) => c.id === id)?.name ?? id;
    const link = (id, text) => h('a', { href: '#', class: 'cert-link', 'data-cert': id, text, onclick: (e) => { e.preventDefault(); select(id); } });
    const mark = (on) => {
      for (const g of mapBox.querySelectorAll('g.cert')) {
        g.classList.toggle('held-hi', on && held.some((c) => c.id === g.dataset.cert));
        g.classList.toggle('trust-hi', on && trusts.some((t) => t.anchor === g.dataset.cert));
      }
    };
    return h('div', { class: 'party card', 'data-party': p.id, onmouseenter: () => mark(true), onmouseleave: () => mark(false) },
      h('div', { class: 'party-head' }, h('h4', { text: p.name }), healthPill(p.up)),
      h('div', { class: 'party-detail' }, mono(p.id), p.detail ? ` · ${p.detail}` : ''),
      h('h5', { text: 'Holds' }),
      held.length ? h('ul', { class: 'held' }, held.map((c) => h('li', { class: c.expired ? 'expired' : null }, link(c.id, c.name))))
        : (p.holds_note ? null : empty('no private keys')),
      p.holds_note ? h('p', { class: 'holds-note', text: p.holds_note }) : null,
      h('h5', { text: 'Trusts' }),
      trusts.length ? h('ul', { class: 'trusts' }, trusts.map((t) => h('li', { class: 'trust', 'data-anchor': t.anchor },
        link(t.anchor, certName(t.anchor)), h('span', { class: 'why', text: t.why }))))
        : empty('no trust anchors'));
  }

  api('/api/trust').then((d) => { if (alive()) { data = d; draw(); } }).catch(fail);
  const onResize = debounce(() => data && draw(), 200);
  window.addEventListener('resize', onResize);
  return {
    cleanup: () => window.removeEventListener('resize', onResize),
    onHealth: (health) => {
      for (const p of health) {
        const card = parties.querySelector(`.party[data-party="${CSS.escape(p.id)}"]`);
        card?.querySelector('.health')?.replaceWith(healthPill(p.up));
      }
    },
  };
};

const field = (name, ...val) => [h('dt', { text: name }), h('dd', {}, ...val)];
const healthPill = (up) => h('span', { class: `pill health ${up === null || up === undefined ? 'neutral' : up ? 'good' : 'bad'}`,
  text: up === null || up === undefined ? 'not a server' : up ? 'up' : 'down' });

// Chains as indented trees (issuer above, subjects below and to the right), packed in columns.
function trustMap(certs, width, onSelect) {
  const byId = new Map(certs.map((c) => [c.id, c]));
  const kids = new Map();
  const roots = [];
  for (const c of certs) {
    const parent = c.issuer_id && c.issuer_id !== c.id && byId.has(c.issuer_id) ? c.issuer_id : null;
    if (parent) (kids.get(parent) || kids.set(parent, []).get(parent)).push(c);
    else roots.push(c);
  }
  const seen = new Set();
  const flatten = (c, depth, out) => {
    if (seen.has(c.id)) return out;
    seen.add(c.id);
    out.push({ cert: c, depth });
    for (const k of kids.get(c.id) || []) flatten(k, depth + 1, out);
    return out;
  };
  const trees = roots.map((r) => flatten(r, 0, []));
  // certificates in an issuer loop (no root): add them as their own trees
  for (const c of certs) if (!seen.has(c.id)) trees.push(flatten(c, 0, []));

  const ROW = 54, BOX = 42, INDENT = 26, GAP = 18, PAD = 4;
  const ncols = Math.max(1, Math.min(trees.length, Math.floor((width + GAP) / 300)));
  const colW = (width - GAP * (ncols - 1)) / ncols;
  const cols = Array.from({ length: ncols }, () => []);
  const heights = new Array(ncols).fill(0);
  const order = trees.map((t, i) => [t, i]).sort((a, b) => b[0].length - a[0].length || a[1] - b[1]);
  for (const [t] of order) {
    const i = heights.indexOf(Math.min(...heights));
    cols[i].push(t);
    heights[i] += t.length + 0.5;
  }
  const rows = Math.max(...cols.map((c) => c.reduce((n, t) => n + t.length, 0) + (c.length - 1) * 0.5));
  const svgH = Math.ceil(rows * ROW) + PAD * 2;
  const svg = s('svg', { id: 'trust-map', width, height: svgH, viewBox: `0 0 ${width} ${svgH}`, role: 'img', 'aria-label': 'certificate chains' });
  const links = s('g', { class: 'links' });
  svg.append(links);
  const fit = (text, px, charW) => {
    const n = Math.max(3, Math.floor(px / charW));
    return text.length > n ? `${text.slice(0, n - 1)}…` : text;
  };
  cols.forEach((col, ci) => {
    let y = PAD;
    const x0 = ci * (colW + GAP);
    for (const tree of col) {
      const pos = new Map();
      for (const { cert: c, depth } of tree) {
        const x = x0 + depth * INDENT;
        const w = colW - depth * INDENT - 2;
        pos.set(c.id, { x, y });
        const parent = c.issuer_id && pos.get(c.issuer_id);
        if (parent) links.append(s('path', { d: `M${parent.x + 12} ${parent.y + BOX} V${y + BOX / 2} H${x}` }));
        const cn = (/(?:^|,)\s*CN=([^,]*)/.exec(c.subject || '') || [])[1] || c.subject || '';
        const holder = c.held_by || '';
        const cls = ['cert', c.ca ? 'ca' : 'ee', c.expired ? 'expired' : '', c.issuer_id === 'unknown' ? 'unknown' : ''].join(' ').trim();
        const g = s('g', { class: cls, 'data-cert': c.id, tabindex: 0, transform: `translate(${x + 1},${y})` },
          s('title', { text: `${c.name}\n${c.subject}\nissuer: ${c.issuer}\nkey held by: ${c.held_by || '?'}${c.expired ? '\nEXPIRED' : ''}` }),
          s('rect', { class: 'box', width: w, height: BOX, rx: 6 }),
          s('rect', { class: 'stripe', width: 4, height: BOX - 8, x: 4, y: 4, rx: 2 }),
          s('text', { class: 'name', x: 14, y: 17, text: fit(c.name, w - 30 - holder.length * 6.6, 7.9) }),
          s('text', { class: 'cn', x: 14, y: 33, text: fit(`CN=${cn}`, w - (c.expired ? 80 : 24), 6.7) }),
          s('text', { class: 'holder', x: w - 8, y: 16, 'text-anchor': 'end', text: holder }),
          c.expired ? s('text', { class: 'flag', x: w - 8, y: 33, 'text-anchor': 'end', text: 'EXPIRED' }) : null);
        g.addEventListener('click', () => onSelect(c.id));
        g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(c.id); } });
        svg.append(g);
        y += ROW;
      }
      y += ROW / 2;
    }
  });
  return svg;
}

// ---------------------------------------------------------------- 2. transactions

VIEWS.transactions = (view, _param, alive) => {
  const filter = h('input', { id: 'tx-filter', type: 'search', placeholder: 'Filter: device, profile, subject, id, outcome…', autocomplete: 'off' });
  const outcome = h('select', { id: 'tx-outcome', title: 'outcome' },
    ['all', 'issued', 'refused', 'other'].map((v) => h('option', { value: v, text: v === 'all' ? 'all outcomes' : v })));
  const count = h('span', { class: 'count' });
  const { el, tbody } = table('tx-table', ['Time (UTC)', 'Device', 'Profile', 'Subject', 'Outcome', 'Duration'], 'clickable');
  const none = empty('No transactions yet: run a scenario or enrol a device.');
  view.append(h('div', { class: 'view-head' }, h('h2', { text: 'Transactions' }),
    h('p', { class: 'lede', text: 'Every SCEP enrolment the lab has seen, newest first. Click one to see its messages.' })),
  h('div', { class: 'toolbar' }, filter, outcome, count), h('div', { class: 'card table-card' }, el, none));
  hint('Click a transaction to open its sequence diagram.');

  let list = [];
  function show() {
    const q = filter.value.trim().toLowerCase();
    const want = outcome.value;
    const rows = list.filter((t) => {
      const o = String(t.outcome || '').toLowerCase();
      if (want === 'issued' && o !== 'issued') return false;
      if (want === 'refused' && !o.startsWith('refused')) return false;
      if (want === 'other' && (o === 'issued' || o.startsWith('refused'))) return false;
      return !q || [t.device, t.profile, t.subject, t.id, t.outcome].some((f) => String(f ?? '').toLowerCase().includes(q));
    });
    fillRows(tbody, rows.map((t) => h('tr', { 'data-tx': t.id, tabindex: 0, title: t.id,
      onclick: () => { location.hash = `#/tx/${encodeURIComponent(t.id)}`; },
      onkeydown: (e) => { if (e.key === 'Enter') location.hash = `#/tx/${encodeURIComponent(t.id)}`; } },
    h('td', { class: 'time' }, fmtTime(t.at)), h('td', { text: t.device }), h('td', { text: t.profile }),
    h('td', {}, mono(t.subject)), h('td', {}, pill(t.outcome)), h('td', { class: 'num', text: `${t.duration_ms} ms` }))),
    (r) => r.dataset.tx);
    count.textContent = `${rows.length} of ${list.length}`;
    none.hidden = list.length > 0;
  }
  async function load() {
    try {
      const d = await api('/api/transactions?limit=500');
      if (!alive()) return;
      list = [...d.transactions].reverse();
      show();
    } catch (err) { fail(err); }
  }
  filter.addEventListener('input', show);
  outcome.addEventListener('change', show);
  load();
  const reload = debounce(load, 500);
  return { onTrace: (ev) => { if (ev.transaction_id) reload(); } };
};

// ---------------------------------------------------------------- 3. one transaction

VIEWS.tx = (view, id, alive) => {
  const head = h('div', { class: 'view-head' }, h('h2', {}, 'Transaction ', mono(id)));
  const seqBox = h('div', { class: 'card seq-card' }, h('p', { class: 'loading', text: 'Loading…' }));
  view.append(h('a', { class: 'back', href: '#/transactions', text: '← all transactions' }), head, seqBox);
  hint('Click a message to see what its receiver decoded.');
  let tx = null;
  let selected = null;

  function select(n) {
    const m = tx.messages.find((x) => x.n === n);
    if (!m) return;
    selected = n;
    for (const g of seqBox.querySelectorAll('g.message')) g.classList.toggle('selected', Number(g.dataset.n) === n);
    const payload = { ...(m.summary || {}) };
    if (m.reason && Object.keys(m.reason).length) payload.reason = m.reason;
    setDetail(h('div', { class: 'msg-detail' },
      h('h3', { text: m.label }),
      h('p', { class: 'route' }, mono(m.from), ' → ', mono(m.to)),
      h('dl', { class: 'fields' },
        field('Time', fmtTime(m.at), h('span', { class: 'muted', text: ` (+${m.offset_ms} ms)` })),
        field('Result', pill(m.result)),
        m.status != null ? field('HTTP status', String(m.status)) : null,
        m.elapsed_ms != null ? field('Took', `${Math.round(m.elapsed_ms)} ms`) : null),
      m.explanation ? h('div', { class: `explanation ${m.outcome === 'ok' ? 'ok' : 'bad'}`, text: m.explanation }) : null,
      h('h4', { text: 'Payload' }),
      Object.keys(payload).length ? kv(payload, 'payload') : empty('nothing decoded')));
  }

  function heading() {
    head.replaceChildren(h('h2', {}, 'Transaction ', mono(id), ' ', pill(tx.outcome, 'big')),
      h('p', { class: 'lede' }, [tx.device, tx.profile].filter(Boolean).join(' · '), ' · ', mono(tx.subject),
        ` · ${fmtTime(tx.at)} UTC · ${tx.duration_ms} ms`));
  }

  async function load() {
    try {
      const d = await api(`/api/transactions/${encodeURIComponent(id)}`);
      if (!alive()) return;
      tx = d;
      heading();
      seqBox.replaceChildren(sequence(tx, Math.max(seqBox.clientWidth - 32, 640), select));
      const failed = tx.messages.find((m) => m.outcome !== 'ok');
      if (selected !== null) select(selected);
      else if (failed) select(failed.n); // open on the reason it went wrong
    } catch (err) {
      if (!alive()) return;
      seqBox.replaceChildren(empty(err.status === 404 ? `No transaction ${id} in the trace.` : err.message));
      if (err.status !== 404) fail(err);
    }
  }
  load();
  const reload = debounce(load, 500);
  const onKey = (e) => {
    if (!tx || !['ArrowDown', 'ArrowUp'].includes(e.key) || e.target.closest('input,select,textarea')) return;
    const ns = tx.messages.map((m) => m.n);
    const i = ns.indexOf(selected);
    const next = ns[Math.max(0, Math.min(ns.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next !== undefined) { e.preventDefault(); select(next); }
  };
  document.addEventListener('keydown', onKey);
  return {
    cleanup: () => document.removeEventListener('keydown', onKey),
    onTrace: (ev) => { if (ev.transaction_id === id) reload(); },
  };
};

// The sequence diagram: lifelines, one arrow per message, time offsets in a left gutter.
function sequence(tx, width, onSelect) {
  const lanes = [...tx.lanes];
  for (const m of tx.messages) for (const l of [m.from, m.to]) if (!lanes.includes(l)) lanes.push(l);
  const GUT = 78, SIDE = 64, TOP = 50, ROW = 46, HEADW = 116;
  const span = Math.max(width - GUT - 2 * SIDE, (lanes.length - 1) * 118);
  const step = lanes.length > 1 ? span / (lanes.length - 1) : 0;
  const X = (lane) => GUT + SIDE + lanes.indexOf(lane) * step;
  const W = GUT + 2 * SIDE + span;
  const H = TOP + tx.messages.length * ROW + 16;
  const svg = s('svg', { id: 'sequence', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'sequence diagram' });
  svg.append(s('text', { class: 'gutter-head', x: GUT - 10, y: 27, 'text-anchor': 'end', text: 'time' }));
  for (const lane of lanes) {
    const x = X(lane);
    svg.append(s('line', { class: 'lifeline', x1: x, x2: x, y1: 38, y2: H - 6 }),
      s('rect', { class: 'lane-head', x: x - HEADW / 2, y: 8, width: HEADW, height: 28, rx: 6 }),
      s('text', { class: 'lane-name', x, y: 27, 'text-anchor': 'middle', text: lane }));
  }
  tx.messages.forEach((m, i) => {
    const top = TOP + i * ROW;
    const y = top + 27;
    const x1 = X(m.from);
    const x2 = X(m.to);
    const dir = x2 >= x1 ? 1 : -1;
    const bad = m.outcome !== 'ok';
    const lost = m.outcome === 'unreachable';
    const g = s('g', { class: `message ${bad ? 'failed' : 'ok'} outcome-${m.outcome}`, 'data-n': m.n, tabindex: 0 },
      s('title', { text: `${m.from} → ${m.to} ${m.label}: ${m.result}${m.explanation ? `\n${m.explanation}` : ''}` }),
      s('rect', { class: 'hit', x: 0, y: top, width: W, height: ROW }),
      s('text', { class: 'offset', x: GUT - 10, y: y + 4, 'text-anchor': 'end', text: `+${m.offset_ms} ms` }));
    if (x1 === x2) { // a party calling itself: a small loop
      g.append(s('path', { class: 'arrow', d: `M${x1} ${y - 9} h28 v16 h-24` }),
        s('path', { class: 'head', d: `M${x1 + 2} ${y + 7} l8 -4.5 v9 z` }),
        s('text', { class: 'label', x: x1 + 34, y: y - 3, text: m.label }),
        s('text', { class: 'result', x: x1 + 34, y: y + 12, text: m.result }));
    } else {
      const end = x2 - dir * 2;
      g.append(s('line', { class: `arrow${lost ? ' lost' : ''}`, x1, y1: y, x2: end - dir * 8, y2: y }),
        lost ? s('path', { class: 'cross', d: `M${end - dir * 10} ${y - 5} l10 10 m0 -10 l-10 10` })
          : s('path', { class: 'head', d: `M${end} ${y} l${-dir * 10} -5 v10 z` }),
        s('text', { class: 'label', x: (x1 + x2) / 2, y: y - 7, 'text-anchor': 'middle', text: m.label }),
        s('text', { class: 'result', x: x2 - dir * 6, y: y + 15, 'text-anchor': dir > 0 ? 'end' : 'start', text: m.result }));
    }
    g.addEventListener('click', () => onSelect(m.n));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(m.n); } });
    svg.append(g);
  });
  return svg;
}

// ---------------------------------------------------------------- 4. Intune

VIEWS.intune = (view, _param, alive) => {
  const t = lab.info?.tenant;
  const devices = table('devices', ['Device', 'OS', 'User', 'Management', 'Compliance', 'Last sync (UTC)', '']);
  const profiles = table('profiles', ['Profile', 'Type', 'Assignments', '']);
  const connectors = table('connectors', ['Connector', 'State', 'Last connection (UTC)', 'Version']);
  const report = table('report', ['Device', 'Profile', 'State', 'Serial', 'Expires (UTC)']);
  const ca = table('ca-requests', ['#', 'Subject', 'Serial', 'Template', 'Submitted (UTC)', 'Status', 'Revoked']);
  const section = (title, sub, tbl) => h('section', { class: 'card table-card' },
    h('h3', {}, title, sub ? h('span', { class: 'muted', text: ` ${sub}` }) : null), tbl.el);
  view.append(h('div', { class: 'view-head' }, h('h2', { text: 'Intune' }),
    h('p', { class: 'lede', text: `As ${t ? t.name : "the tenant"}'s administrator sees it. Retire a device and watch the revocation travel: device → cloud → connector → CA → report.` })),
  section('Devices', '', devices), section('Certificate report', '(what devices told Intune)', report),
  section('Enterprise CA: requests', '(what the CA issued, denied and revoked)', ca),
  section('Certificate profiles', '', profiles), section('Certificate connectors', '', connectors));
  labReady.then(() => {
    const tn = lab.info?.tenant;
    if (alive() && tn) $('.lede', view).textContent = $('.lede', view).textContent.replace("the tenant's", `${tn.name}'s`);
  });
  hint('Retire a device here, then watch its certificate be revoked: the rows that change flash.');

  async function retire(d) {
    if (!confirm(`Retire ${d.deviceName}? Intune will ask the connector to revoke its certificates.`)) return;
    try {
      await api(`/api/intune/devices/${encodeURIComponent(d.id)}/retire`, { method: 'POST' });
      notice(`${d.deviceName} retired: the revocation is on its way.`, 'info');
      load();
    } catch (err) { fail(err); }
  }
  async function unassign(p) {
    try {
      await api(`/api/intune/profiles/${encodeURIComponent(p.id)}/unassign`, { method: 'POST' });
      notice(`${p.displayName}: assignments removed.`, 'info');
      load();
    } catch (err) { fail(err); }
  }

  let busy = false;
  async function load() {
    if (busy) return;
    busy = true;
    try {
      const [d, r] = await Promise.all([api('/api/intune'), api('/api/ca/requests')]);
      if (!alive()) return;
      fillRows(devices.tbody, d.devices.map((x) => h('tr', { 'data-device': x.deviceName },
        h('td', { class: 'strong', text: x.deviceName }), h('td', { text: x.operatingSystem }), h('td', { text: x.userPrincipalName }),
        h('td', {}, pill(x.managementState)), h('td', {}, pill(x.complianceState)), h('td', { class: 'time', text: fmtTime(x.lastSyncDateTime) }),
        h('td', { class: 'act' }, h('button', { class: 'retire danger', text: 'Retire', onclick: () => retire(x),
          disabled: /retire/i.test(x.managementState || '') })))), (row) => row.dataset.device);
      fillRows(profiles.tbody, d.profiles.map((p) => h('tr', { 'data-profile': p.displayName },
        h('td', { class: 'strong', text: p.displayName }), h('td', {}, mono(String(p['@odata.type'] || '').replace('#microsoft.graph.', ''))),
        h('td', { class: 'num', text: String(p.assignments?.length ?? 0) }),
        h('td', { class: 'act' }, h('button', { class: 'unassign', text: 'Unassign', onclick: () => unassign(p),
          disabled: !p.assignments?.length })))), (row) => row.dataset.profile);
      fillRows(connectors.tbody, d.connectors.map((c) => h('tr', { 'data-connector': c.id },
        h('td', { class: 'strong', text: c.displayName }), h('td', {}, pill(c.state)), h('td', { class: 'time', text: fmtTime(c.lastConnectionDateTime) }),
        h('td', {}, mono(c.connectorVersion)))), (row) => row.dataset.connector);
      const revoked = (x) => x.revokeStatus && !['none', 'notRevoked'].includes(x.revokeStatus);
      fillRows(report.tbody, d.report.map((x) => h('tr', { 'data-serial': String(x.serialNumber || '').toLowerCase(), 'data-i': `${x.profileId}/${x.deviceName}/${x.serialNumber || ''}` },
        h('td', { text: x.deviceName }), h('td', { text: x.profile }),
        h('td', { class: 'state' }, pill(x.state), revoked(x) ? [' ', pill(x.revokeStatus)] : null),
        h('td', {}, mono(String(x.serialNumber || '—').toLowerCase())), h('td', { class: 'time', text: fmtTime(x.expirationDateTime) }))),
      (row) => row.dataset.i);
      fillRows(ca.tbody, [...r.requests].reverse().map((q) => h('tr', { 'data-serial': String(q.serial || '').toLowerCase(), 'data-id': q.id },
        h('td', { class: 'num', text: String(q.id) }), h('td', {}, mono(q.subject)), h('td', {}, mono(String(q.serial || '—').toLowerCase())),
        h('td', { text: q.template }), h('td', { class: 'time', text: fmtTime(q.submitted) }),
        h('td', { class: 'status' }, pill(q.status)),
        h('td', {}, q.revoked_at ? [h('div', { text: fmtTime(q.revoked_at) }),
          q.revocation_reason != null ? h('div', { class: 'muted', text: reasonName(q.revocation_reason) }) : null] : null))),
      (row) => row.dataset.id);
      for (const [tbl, n] of [[devices, 7], [profiles, 4], [connectors, 4], [report, 5], [ca, 7]]) {
        if (!tbl.tbody.rows.length) tbl.tbody.append(h('tr', { class: 'none' }, h('td', { colspan: n, text: 'none' })));
      }
    } catch (err) { if (alive()) fail(err); } finally { busy = false; }
  }
  load();
  const timer = setInterval(load, 3000);
  const reload = debounce(load, 400);
  return { cleanup: () => clearInterval(timer), onTrace: reload };
};

// ---------------------------------------------------------------- 5. scenarios

VIEWS.scenarios = (view, _param, alive) => {
  const list = table('scenarios', ['Scenario', 'What it shows', '']);
  const past = table('runs', ['Started (UTC)', 'Scenario', 'Result', 'Seconds', 'Reason'], 'clickable');
  const noRuns = empty('No runs yet.');
  view.append(h('div', { class: 'view-head' }, h('h2', { text: 'Scenarios' }),
    h('p', { class: 'lede', text: 'Each scenario drives the lab end to end and checks what every party did. The run shows up on the right, live.' })),
  h('section', { class: 'card table-card' }, list.el),
  h('section', { class: 'card table-card' }, h('h3', { text: 'Past runs' }), past.el, noRuns));

  async function run(sc) {
    if (sc.for_good && !confirm(`"${sc.name}" changes the lab for good (the clock never goes back). Run it?`)) return;
    const before = shownRun;
    shownRun = null;
    setDetail(h('div', { id: 'run', class: 'run' }, h('h3', { text: sc.name }), h('p', { class: 'loading', text: 'Starting…' })));
    try {
      const { run: r } = await api(`/api/scenarios/${encodeURIComponent(sc.name)}/run`, { method: 'POST' });
      const known = runs.get(r.id);
      noteRun(known && known.steps.length >= r.steps.length ? known : r);
      shownRun = r.id;
      if (alive()) { showRun(); showPast(); }
    } catch (err) {
      fail(err);
      if (shownRun === null) shownRun = before;
      if (alive()) showRun();
    }
  }

  function showRun() {
    const r = runs.get(shownRun);
    if (!r) { hint('Run a scenario to watch it here: its steps, the messages as they travel, the verdict.'); return; }
    const seen = runMessages.get(r.id) || [];
    const msgs = seen.length ? seen : (r.messages || []); // what the console kept, for a run this page did not watch
    const done = r.state !== 'running';
    const old = $('#run-messages');
    const keep = old && $('#run')?.dataset.run === r.id ? old : null; // no replay of what arrived
    keep?.append(...msgs.slice(keep.children.length).map(msgItem));
    setDetail(h('div', { id: 'run', class: `run ${r.state}`, 'data-run': r.id },
      h('div', { class: 'run-head' }, h('h3', { text: r.scenario }), pill(r.state)),
      h('p', { class: 'muted', text: `started ${fmtTime(r.started)} UTC${r.seconds != null ? ` · ${r.seconds.toFixed(1)} s` : ''}` }),
      done ? h('div', { id: 'run-verdict', class: r.state === 'passed' ? 'pass' : 'fail',
        text: `${r.state === 'passed' ? 'PASS' : 'FAIL'} — ${r.reason ?? ''}` }) : null,
      h('h4', { text: 'Steps' }),
      h('ol', { id: 'run-steps' }, r.steps.map((x) => h('li', { text: x }))),
      !done ? h('p', { class: 'working', text: 'running…' }) : null,
      h('h4', { text: 'Transactions' }),
      r.transactions.length ? h('div', { class: 'run-txs' }, r.transactions.map((id) => h('a', { class: 'run-tx', href: `#/tx/${encodeURIComponent(id)}`, title: id, text: id.length > 14 ? `${id.slice(0, 12)}…` : id })))
        : empty(done ? 'none' : 'none yet'),
      h('h4', { text: 'Messages' }, h('span', { class: 'muted msg-count', text: msgs.length ? ` (${msgs.length})` : '' })),
      keep || h('ul', { id: 'run-messages' }, msgs.map(msgItem)),
      !msgs.length ? empty(done ? 'none seen by this page' : 'waiting for the first message…') : null));
    const ul = $('#run-messages');
    ul.scrollTop = ul.scrollHeight;
  }
  const msgItem = (m) => h('li', { class: m.ok ? 'ok' : 'bad', text: m.text });

  function showPast() {
    const all = [...runs.values()].sort((a, b) => String(b.started).localeCompare(String(a.started)));
    fillRows(past.tbody, all.map((r) => h('tr', { 'data-run': r.id, class: r.id === shownRun ? 'selected' : null,
      onclick: () => { shownRun = r.id; showRun(); showPast(); } },
    h('td', { class: 'time', text: fmtTime(r.started) }), h('td', {}, mono(r.scenario)), h('td', {}, pill(r.state)),
    h('td', { class: 'num', text: r.seconds != null ? r.seconds.toFixed(1) : '' }), h('td', { class: 'small', text: r.reason ?? '' }))),
    (row) => row.dataset.run);
    noRuns.hidden = all.length > 0;
  }

  Promise.all([api('/api/scenarios'), api('/api/runs')]).then(([sc, rs]) => {
    if (!alive()) return;
    for (const r of rs.runs) if (!runs.has(r.id) || runs.get(r.id).state === 'running') noteRun(r);
    if (shownRun === null && activeRun) shownRun = activeRun;
    fillRows(list.tbody, sc.scenarios.map((x) => h('tr', { 'data-scenario': x.name },
      h('td', {}, mono(x.name), x.for_good ? h('span', { class: 'pill warn small', title: 'changes the lab for good', text: 'for good' }) : null),
      h('td', { text: x.description }),
      h('td', { class: 'act' }, h('button', { class: 'run primary', 'data-scenario': x.name, text: 'Run', onclick: () => run(x) })))),
    (row) => row.dataset.scenario);
    showRun();
    showPast();
  }).catch(fail);
  hint('Loading…');

  return {
    onRun: (r) => {
      if (r.state === 'running' && (shownRun === null || !runs.get(shownRun) || runs.get(shownRun).state !== 'running')) shownRun = r.id;
      if (r.id === shownRun) showRun();
      showPast();
    },
    onTrace: (_ev, msg) => {
      if (!msg || !activeRun || activeRun !== shownRun) return;
      const ul = $('#run-messages');
      if (!ul) return;
      ul.append(msgItem(msg));
      ul.nextElementSibling?.classList.contains('empty') && ul.nextElementSibling.remove();
      const n = $('#run .msg-count');
      if (n) n.textContent = ` (${ul.children.length})`;
      ul.scrollTop = ul.scrollHeight;
    },
  };
};

// ---------------------------------------------------------------- 6. clock and faults

const FIELDS = {
  status: { label: 'HTTP status', type: 'number', placeholder: '503' },
  times: { label: 'Times', type: 'number', placeholder: 'until cleared' },
  hresult: { label: 'HRESULT', type: 'text', placeholder: '0x80094012' },
  caps: { label: 'Capabilities', type: 'text', placeholder: 'POSTPKIOperation,SHA-1' },
  template: { label: 'Template', type: 'text', placeholder: 'IntuneDeviceCert' },
  slot: { label: 'Slot', type: 'select', choices: ['', 'signature', 'encryption', 'general-purpose'] },
  restart_after: { label: 'Restart after (s)', type: 'number', placeholder: '5' },
};

VIEWS.clock = (view, _param, alive) => {
  const now = h('div', { id: 'clock-now', class: 'clock-now' }, '…');
  const advance = h('input', { id: 'clock-advance', type: 'text', placeholder: '61m, 2h, 30d', autocomplete: 'off' });
  const go = h('button', { id: 'clock-go', class: 'primary', type: 'submit', text: 'Advance' });
  const answers = h('ul', { id: 'clock-parties', class: 'answers' });
  const noAnswers = empty('Advance the clock to see each party take the new time.');
  const point = h('select', { id: 'fault-point' });
  const help = h('p', { class: 'help' });
  const fields = Object.entries(FIELDS).map(([name, f]) => h('label', { class: 'field', 'data-option': name, hidden: true },
    h('span', { text: f.label }),
    f.type === 'select' ? h('select', { id: `fault-${name}`, name }, f.choices.map((c) => h('option', { value: c, text: c || '(default)' })))
      : h('input', { id: `fault-${name}`, name, type: f.type, placeholder: f.placeholder, step: name === 'restart_after' ? 'any' : null })));
  const inject = h('button', { id: 'fault-inject', class: 'danger', type: 'submit', text: 'Inject' });
  const clear = h('button', { id: 'fault-clear', type: 'button', text: 'Clear all' });
  const buttons = h('div', { class: 'row' }, inject, clear);
  const armed = h('ul', { id: 'faults-armed', class: 'armed' });
  const noneArmed = empty('Nothing armed.');
  view.append(h('div', { class: 'view-head' }, h('h2', { text: 'Clock and faults' }),
    h('p', { class: 'lede', text: 'The lab shares one virtual clock, which only goes forward. Faults make a party misbehave on purpose.' })),
  h('div', { class: 'two' },
    h('section', { class: 'card' }, h('h3', { text: 'Virtual clock' }), now,
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); doAdvance(); } }, advance, go),
      h('h4', { text: 'What the parties answered' }), answers, noAnswers),
    h('section', { class: 'card' }, h('h3', { text: 'Faults' }),
      h('form', { class: 'fault-form', onsubmit: (e) => { e.preventDefault(); doInject(); } },
        h('label', { class: 'field wide' }, h('span', { text: 'Fault point' }), point), help, fields,
        buttons),
      h('h4', { text: 'Armed' }), armed, noneArmed)));
  hint('Advancing the clock is for good: certificates expire and stay expired (scep-lab reset starts over).');

  let points = [];
  let clockAt = null; // [virtual now (ms), local time it was read]
  const tick = () => {
    if (!clockAt) return;
    const t = new Date(clockAt[0] + Date.now() - clockAt[1]);
    const off = clockAt[2];
    now.replaceChildren(h('span', { class: 'big mono', text: `${t.toISOString().replace('T', ' ').slice(0, 19)} UTC` }),
      h('span', { class: 'muted', text: off ? `offset: ${ago(off)} (${Math.round(off)} s) ahead of real time` : 'no offset: real time' }));
  };
  const setClock = (c) => { clockAt = [Date.parse(c.now), Date.now(), c.offsetSeconds || 0]; tick(); };
  async function loadClock() {
    try { const c = await api('/api/clock'); if (alive()) setClock(c); } catch (err) {
      if (!alive()) return;
      if (!clockAt) now.replaceChildren(h('span', { class: 'bad-text', text: `unknown: ${err.message}` }));
      fail(err);
    }
  }
  async function doAdvance() {
    const by = advance.value.trim();
    if (!by) { notice('Say how far to advance, e.g. 61m, 2h or 30d.'); return; }
    go.disabled = true;
    try {
      const r = await api('/api/clock', { method: 'POST', body: { advance: by } });
      setClock(r);
      answers.replaceChildren(...Object.entries(r.parties || {}).map(([p, text]) => h('li', { 'data-party': p }, mono(p), h('span', { text: ` ${text}` }))));
      noAnswers.hidden = answers.children.length > 0;
      notice(`Clock advanced by ${by}.`, 'info');
    } catch (err) { fail(err); } finally { go.disabled = false; }
  }

  function showPoint() {
    const p = points.find((x) => x.name === point.value);
    help.replaceChildren(p ? `${p.help} ` : '', p ? h('span', { class: 'muted', text: `(${p.party})` }) : '',
      p?.for_good ? h('strong', { class: 'bad-text', text: ' Cannot be cleared: the clock does not go back.' }) : '');
    for (const f of fields) f.hidden = !p?.options?.includes(f.dataset.option);
    // the point's fields in its own order, just before the buttons
    for (const opt of p?.options || []) buttons.before(fields.find((f) => f.dataset.option === opt) || '');
  }
  function showArmed(map) {
    armed.replaceChildren(...Object.entries(map || {}).map(([p, text]) => h('li', { 'data-point': p },
      String(text).startsWith(p) ? mono(text) : [mono(p), h('span', { text: ` ${text}` })])));
    noneArmed.hidden = armed.children.length > 0;
  }
  async function loadFaults() {
    try {
      const d = await api('/api/faults');
      if (!alive()) return;
      points = d.points;
      const keep = point.value;
      point.replaceChildren(...points.map((p) => h('option', { value: p.name, text: `${p.name} (${p.party})${p.for_good ? ' — for good' : ''}` })));
      if (points.some((p) => p.name === keep)) point.value = keep;
      showPoint();
      showArmed(d.armed);
      setDetail(h('h3', { text: 'Fault points' }), h('p', { class: 'hint', text: 'Advancing the clock is for good: certificates expire and stay expired (scep-lab reset starts over).' }),
        h('dl', { class: 'points' }, points.map((p) => [h('dt', {}, mono(p.name), ' ', h('span', { class: 'muted', text: p.party }),
          p.for_good ? h('span', { class: 'pill warn small', text: 'for good' }) : null), h('dd', { text: p.help })])));
    } catch (err) { fail(err); }
  }
  async function doInject() {
    const p = points.find((x) => x.name === point.value);
    if (!p) return;
    const body = { point: p.name };
    for (const opt of p.options || []) {
      const raw = $(`#fault-${opt}`).value.trim();
      if (raw === '') continue;
      body[opt] = FIELDS[opt]?.type === 'number' ? Number(raw) : raw;
    }
    if (p.for_good) {
      if (!confirm(`"${p.name}" moves the clock past a certificate's notAfter and cannot be undone. Inject?`)) return;
      body.confirm = true;
    }
    try {
      const r = await api('/api/faults', { method: 'POST', body });
      notice(`Armed: ${r.armed}`, 'info');
      loadFaults();
      loadClock();
    } catch (err) { fail(err); }
  }
  async function doClear() {
    try {
      const r = await api('/api/faults', { method: 'DELETE' });
      notice(r.failed?.length ? `Could not clear faults at: ${r.failed.join(', ')}` : 'All faults cleared.', r.failed?.length ? 'error' : 'info');
      loadFaults();
    } catch (err) { fail(err); }
  }
  point.addEventListener('change', () => {
    for (const f of fields) f.querySelector('input,select').value = '';
    showPoint();
  });
  clear.addEventListener('click', doClear);
  loadClock();
  loadFaults();
  const ticker = setInterval(tick, 1000);
  const poll = setInterval(() => { loadClock(); }, 10000);
  return { cleanup: () => { clearInterval(ticker); clearInterval(poll); } };
};

// CRL reason codes (RFC 5280) by name, when the CA gives the number.
const REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', null, 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise'];
const reasonName = (r) => (/^\d+$/.test(String(r)) && REASONS[Number(r)] ? `${REASONS[Number(r)]} (${r})` : String(r));

function ago(seconds) {
  const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts = [];
  let left = Math.round(Math.abs(seconds));
  for (const [u, n] of units) if (left >= n && parts.length < 2) { parts.push(`${Math.floor(left / n)}${u}`); left %= n; }
  return parts.join(' ') || '0s';
}

// ---------------------------------------------------------------- start

window.addEventListener('hashchange', route);
const labReady = loadLab();
refreshHealth();
setInterval(refreshHealth, 5000);
api('/api/runs').then((d) => d.runs.forEach(noteRun)).catch(() => {});
connectStream();
if (!location.hash) history.replaceState(null, '', '#/trust');
route();
