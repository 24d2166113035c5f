// app.js: the Sextant dashboard. Polls /ui/api every two seconds and
// redraws; a click on a decision opens its trace and feedback.
import {lineChart, sparkline, ring, scatterChart} from './charts.js';

const PALETTE = ['#4f6bff', '#14b8a6', '#f59e0b', '#ec4899', '#8b5cf6', '#22c55e', '#0ea5e9', '#ef4444', '#a3a3a3', '#84cc16'];
const state = {window: 300, evalRoute: '', overview: null, decisions: [], openId: '', failures: 0};
const $ = sel => document.querySelector(sel);

// Colors are given to models in order of first sight and kept, so a model
// keeps its color across refreshes.
const colors = new Map();
function colorOf(name) {
  if (name === '_none') return '#9aa4b5';
  if (!colors.has(name)) colors.set(name, PALETTE[colors.size % PALETTE.length]);
  return colors.get(name);
}

function usd(v) {
  if (!isFinite(v)) return '–';
  const a = Math.abs(v);
  const s = a === 0 ? '0' : a >= 100 ? a.toFixed(0) : a >= 1 ? a.toFixed(2) : a >= 0.01 ? a.toFixed(3) : a >= 0.0001 ? a.toFixed(5) : a >= 0.000001 ? a.toFixed(6) : '0.000000';
  return (v < 0 ? '−$' : '$') + s;
}
const pct = (v, d = 1) => isFinite(v) ? (v * 100).toFixed(d) + '%' : '–';
function ms(v) {
  if (!isFinite(v) || v <= 0) return '–';
  return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 1 : 2) + ' s' : v >= 10 ? v.toFixed(0) + ' ms' : v.toFixed(2) + ' ms';
}
const num = v => Intl.NumberFormat().format(v);

async function getJSON(url, init) {
  const r = await fetch(url, Object.assign({credentials: 'same-origin', headers: {'Accept': 'application/json'}}, init || {}));
  if (r.status === 401) { location.reload(); throw new Error('signed out'); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error?.message || `HTTP ${r.status}`);
  return body;
}

function text(el, v) { if (el.textContent !== v) el.textContent = v; }
function node(tag, cls, txt) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (txt !== undefined) e.textContent = txt;
  return e;
}

function kpi(id, value, sub, series, color, tone) {
  const card = document.getElementById(id);
  const v = card.querySelector('.value');
  text(v, value);
  v.classList.toggle('good', tone === 'good');
  v.classList.toggle('bad', tone === 'bad');
  text(card.querySelector('.sub'), sub);
  sparkline(card.querySelector('svg.spark'), series, color);
}

function render() {
  const o = state.overview;
  if (!o) return;
  // The last bucket is still filling: leave it out of the time series, so
  // rates do not seem to dip at the right edge.
  const s = Object.fromEntries(Object.entries(o.series).map(([k, v]) => [k, v.slice(0, -1)]));
  const w = o.window;
  const perSec = s.requests.map(n => n / o.bucket_s);
  const errShare = s.requests.map((n, i) => n ? s.errors[i] / n : 0);
  const saved = s.baseline_usd.map((b, i) => b - s.cost_usd[i]);
  text($('#baseline-note'), o.baseline ? `baseline: ${o.baseline}` : 'no baseline model');
  kpi('kpi-rps', w.rps.toFixed(w.rps < 10 ? 2 : 1), `${num(w.requests)} in ${o.window_s / 60} min · ${num(o.lifetime.requests)} since start`, perSec, '#4f6bff');
  kpi('kpi-errors', pct(w.error_rate), `${num(w.errors)} failed (5xx)`, errShare, '#e5484d', w.error_rate > 0.05 ? 'bad' : '');
  kpi('kpi-cpr', usd(w.cost_per_request_usd), `${usd(w.cost_usd)} in window`, s.cost_per_request_usd, '#f59e0b');
  kpi('kpi-savings', pct(w.savings_share, 0), `${usd(w.savings_usd)} of ${usd(w.baseline_usd)} on ${o.baseline || '—'}`, saved, '#16a34a', w.savings_usd >= 0 ? 'good' : 'bad');
  kpi('kpi-latency', ms(w.latency_mean_ms), 'arrival to last byte', s.latency_mean_ms, '#8b5cf6');
  const lookups = o.cache.hits + o.cache.misses;
  kpi('kpi-cache', lookups ? pct(o.cache.hit_rate) : '–', lookups ? `${num(o.cache.hits)} of ${num(lookups)} lookups` : 'no cache lookups', [], '#0ea5e9');

  lineChart($('#chart-traffic'), {x: s.t, height: 200, yFormat: v => v.toFixed(v < 10 ? 1 : 0), series: [
    {name: 'requests/s', color: '#4f6bff', values: perSec, area: true},
    {name: 'errors/s', color: '#e5484d', values: s.errors.map(n => n / o.bucket_s)},
  ]});
  text($('#traffic-hint'), `${o.bucket_s}s buckets`);
  // Cumulative cost against the baseline over the window.
  const cum = a => { let t = 0; return a.map(v => (t += v)); };
  lineChart($('#chart-cost'), {x: s.t, height: 200, yFormat: usd, series: [
    {name: `all ${o.baseline || 'baseline'}`, color: '#9aa4b5', values: cum(s.baseline_usd), dash: '5 4'},
    {name: 'routed (actual)', color: '#16a34a', values: cum(s.cost_usd), area: true},
  ]});
  text($('#cost-hint'), `cumulative over ${o.window_s / 60} min`);

  renderMix(o);
  renderModels(o);
  renderGates(o);
  renderEvalRoutes(o);
}

function renderMix(o) {
  const box = $('#mix');
  box.replaceChildren();
  const used = new Set();
  const routes = o.routes.filter(r => r.kind === 'route' || r.requests > 0);
  if (!routes.length) box.appendChild(node('div', 'empty', 'No routes configured.'));
  for (const r of routes) {
    const row = node('div', 'row');
    row.dataset.route = r.route;
    const name = node('div', 'name', r.route);
    name.appendChild(node('small', '', r.kind === 'route' ? 'route' : r.kind === 'model' ? 'direct model' : 'unknown name'));
    const bar = node('div', 'bar');
    for (const m of r.models) {
      used.add(m.model);
      const seg = node('div');
      seg.style.width = (m.share * 100).toFixed(2) + '%';
      seg.style.background = colorOf(m.model);
      seg.title = `${m.model}: ${pct(m.share)} (${num(m.requests)})`;
      const label = m.model === '_none' ? 'no answer' : m.model;
      seg.title = `${label}: ${pct(m.share)} (${num(m.requests)})`;
      if (m.share > 0.12) seg.appendChild(node('span', '', `${label} ${pct(m.share, 0)}`));
      bar.appendChild(seg);
    }
    row.append(name, bar, node('div', 'n', r.requests ? num(r.requests) : 'idle'));
    box.appendChild(row);
  }
  const legend = $('#mix-legend');
  legend.replaceChildren();
  for (const m of used) {
    const sp = node('span');
    const i = node('i');
    i.style.background = colorOf(m);
    sp.append(i, m === '_none' ? 'no answer' : m);
    legend.appendChild(sp);
  }
}

function renderModels(o) {
  const tb = $('#models tbody');
  tb.replaceChildren();
  for (const m of o.models) {
    const tr = node('tr');
    const name = node('td');
    const sw = node('span', 'sw');
    sw.style.background = colorOf(m.model);
    name.append(sw, m.model);
    if (m.tier) name.appendChild(node('span', 'muted', ` · ${m.tier}`));
    const health = node('td');
    const tone = {ok: 'ok', degraded: 'warn', failing: 'bad', idle: 'idle'}[m.health] || 'idle';
    health.appendChild(node('span', `pill ${tone}`, m.health));
    const err = node('td', 'num', m.attempts ? pct(m.error_rate) : '–');
    if (m.attempts) {
      const meter = node('span', 'meter');
      const fill = node('i');
      fill.style.width = Math.min(100, m.error_rate * 100).toFixed(1) + '%';
      meter.appendChild(fill);
      err.appendChild(meter);
    }
    tr.append(name, health, node('td', 'num', num(m.attempts)), err,
      node('td', 'num', ms(m.latency_ms.p50)), node('td', 'num', ms(m.latency_ms.p95)), node('td', 'num', ms(m.latency_ms.p99)),
      node('td', 'num', ms(m.ttft_ms.p50)), node('td', 'num', usd(m.cost_usd)));
    tb.appendChild(tr);
  }
  text($('#models-hint'), `last ${num(o.sample)} requests in the window`);
  text($('#circuits-note'), o.circuits ? '' : 'Health is judged from recent calls (over 5% errors: degraded; over 50%: failing). Circuit breakers are not part of this build yet.');
}

function renderGates(o) {
  const g = $('#gates');
  g.replaceChildren();
  if (!o.gates.length) {
    g.appendChild(node('div', 'empty', 'No gate verdicts in this window. Cascade routes record one per checked answer.'));
  } else {
    const t = node('table');
    t.innerHTML = '<thead><tr><th>Gate</th><th class="num">Pass</th><th class="num">Fail</th><th class="num">Skip</th><th class="num">Pass rate</th></tr></thead>';
    const tb = node('tbody');
    for (const r of o.gates) {
      const tr = node('tr');
      tr.append(node('td', '', r.gate), node('td', 'num', num(r.pass)), node('td', 'num', num(r.fail)), node('td', 'num', num(r.skip)), node('td', 'num', pct(r.pass_rate)));
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    g.appendChild(t);
  }
  const c = $('#cascade');
  c.replaceChildren();
  const steps = o.cascade.accept + o.cascade.escalate;
  const wrap = node('div', 'ring-wrap');
  const rg = node('div');
  ring(rg, o.cascade.escalation_share, '#f59e0b', steps ? pct(o.cascade.escalation_share, 0) : '–');
  const st = node('div', 'stats');
  st.append(stat('Accepted', num(o.cascade.accept)), stat('Escalated', num(o.cascade.escalate)));
  wrap.append(rg, st);
  c.append(wrap, node('div', 'note', steps ? 'Share of cascade steps that escalated to the next tier.' : 'No cascade steps in this window.'));

  const cl = $('#cachelog');
  cl.replaceChildren();
  const s2 = node('div', 'stats');
  s2.append(stat('Cache hits', num(o.cache.hits)), stat('Cache misses', num(o.cache.misses)));
  if (o.decision_log) {
    const dl = o.decision_log;
    s2.append(stat('Decisions written', num(dl.written)), stat('Dropped', num(dl.dropped), dl.dropped ? 'bad' : ''));
  }
  cl.append(s2, node('div', 'note', o.cache.hits + o.cache.misses ? '' : 'No response cache is configured; lookups appear here once one is.'));
}

function stat(label, v, tone) {
  const d = node('div', 'stat');
  d.append(node('div', 'label', label), node('div', 'v' + (tone === 'bad' ? ' error' : ''), v));
  return d;
}

function renderDecisions() {
  const tb = $('#decisions tbody');
  tb.replaceChildren();
  if (!state.decisions.length) {
    const tr = node('tr');
    const td = node('td', 'empty', 'No requests yet. Send one to /v1/chat/completions.');
    td.colSpan = 10;
    tr.appendChild(td);
    tb.appendChild(tr);
    return;
  }
  for (const d of state.decisions) {
    const tr = node('tr');
    tr.dataset.id = d.request_id;
    const model = node('td');
    if (d.model) {
      const sw = node('span', 'sw');
      sw.style.background = colorOf(d.model);
      model.append(sw, d.model);
    } else model.textContent = '—';
    const tone = d.status < 400 ? 'ok' : d.status < 500 ? 'warn' : 'bad';
    const st = node('td');
    st.appendChild(node('span', `pill ${tone}`, String(d.status)));
    tr.append(node('td', 'mono', new Date(d.time).toLocaleTimeString()), node('td', '', d.route), model, st,
      node('td', 'num', ms(d.latency_ms)), node('td', 'num', ms(d.overhead_ms)), node('td', 'num', `${num(d.tokens_in)} → ${num(d.tokens_out)}`),
      node('td', 'num', usd(d.cost_usd)), node('td', 'num', usd(d.baseline_usd - d.cost_usd)), node('td', 'decision-cell', d.decision));
    tr.addEventListener('click', () => openDecision(d.request_id));
    tb.appendChild(tr);
  }
}

function renderEvalRoutes(o) {
  const sel = $('#eval-route');
  const want = o.routes.filter(r => r.kind === 'route').map(r => r.route);
  const key = want.join('\n') + '|' + o.eval_routes.join('\n');
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  sel.replaceChildren();
  for (const r of want) {
    const opt = node('option', '', r + (o.eval_routes.includes(r) ? '' : ' (no report)'));
    opt.value = r;
    sel.appendChild(opt);
  }
  if (!state.evalRoute || !want.includes(state.evalRoute)) state.evalRoute = o.eval_routes.find(r => want.includes(r)) || want[0] || '';
  sel.value = state.evalRoute;
  loadEval();
}

async function loadEval() {
  const box = $('#chart-eval'), note = $('#eval-note');
  box.querySelector('svg')?.remove();
  $('#eval-legend').replaceChildren();
  if (!state.evalRoute) { text(note, 'No routes.'); return; }
  try {
    const v = await getJSON('/ui/api/eval?route=' + encodeURIComponent(state.evalRoute));
    const base = v.baselines.map(b => ({x: b.cost_share, y: b.quality, label: b.label}));
    const weak = v.baselines.find(b => b.label === v.weak), strong = v.baselines.find(b => b.label === v.strong);
    const series = [];
    if (weak && strong) series.push({name: 'random router', color: '#9aa4b5', dash: '5 4', line: true, r: 0.01,
      points: [{x: weak.cost_share, y: weak.quality}, {x: strong.cost_share, y: strong.quality}]});
    if (v.points.length) series.push({name: 'sweep', color: '#4f6bff', line: true, points: v.points.map(p => ({x: p.cost_share, y: p.quality, label: `${v.knob || 'knob'} = ${p.knob}`}))});
    series.push({name: 'models alone', color: '#f59e0b', points: base, r: 5});
    series.push({name: 'as configured', color: '#16a34a', r: 7, points: [{x: v.configured.cost_share, y: v.configured.quality, label: `${v.route} as configured`}]});
    scatterChart(box, {series, height: 280, xLabel: `cost share of all-${v.strong}`, yLabel: 'quality'});
    const legend = $('#eval-legend');
    legend.replaceChildren();
    for (const s of series) {
      const sp = node('span');
      const i = node('i');
      i.style.background = s.color;
      sp.append(i, s.name);
      legend.appendChild(sp);
    }
    const fmt = x => x == null ? '—' : x.toFixed(3);
    text(note, `${v.file} · ${new Date(v.modified).toLocaleString()} · APGR ${fmt(v.apgr)} · CPT(50%) ${fmt(v.cpt50)} · CPT(80%) ${fmt(v.cpt80)}`);
  } catch (e) {
    text(note, `No eval report for ${state.evalRoute}. Run: sextant eval --config … --route ${state.evalRoute} --dataset … --sweep --out <ui.reports_dir>/${state.evalRoute}`);
  }
}

async function openDecision(id) {
  state.openId = id;
  const body = $('#drawer-body');
  body.replaceChildren(node('div', 'muted', 'loading…'));
  $('#drawer').classList.add('open');
  $('#drawer').setAttribute('aria-hidden', 'false');
  $('#drawer-bg').classList.add('open');
  try {
    const det = await getJSON('/ui/api/decisions/' + encodeURIComponent(id));
    if (state.openId === id) renderDetail(det);
  } catch (e) {
    body.replaceChildren(node('div', 'error', 'Could not load the decision: ' + e.message));
  }
}

function closeDrawer() {
  state.openId = '';
  $('#drawer').classList.remove('open');
  $('#drawer').setAttribute('aria-hidden', 'true');
  $('#drawer-bg').classList.remove('open');
}

function renderDetail(det) {
  const d = det.decision, body = $('#drawer-body');
  body.replaceChildren();
  body.appendChild(node('h3', '', `${d.route} → ${d.model || 'no answer'}`));
  body.appendChild(node('div', 'mono muted', d.request_id + (d.trace_id ? ` · trace ${d.trace_id}` : '')));
  const facts = node('div', 'facts');
  const fact = (v, l) => { const x = node('div'); x.append(node('b', '', v), node('span', '', l)); facts.appendChild(x); };
  fact(String(d.status), d.error_type || 'status');
  fact(ms(d.latency_ms), 'latency');
  fact(ms(det.overhead_ms), 'Sextant overhead');
  fact(d.ttft_ms ? ms(d.ttft_ms) : '–', 'time to first token');
  fact(usd(d.cost_micros / 1e6), 'cost');
  fact(usd(det.baseline_usd), 'on baseline');
  fact(`${num(d.usage.prompt_tokens)} / ${num(d.usage.completion_tokens)}`, 'tokens in / out');
  fact(d.stream ? 'stream' : 'whole', det.source === 'log' ? 'from the decision log' : 'from memory');
  body.appendChild(facts);

  body.appendChild(node('h4', '', 'Trace'));
  const wf = node('div', 'wf trace');
  const total = Math.max(d.latency_ms, ...d.trace.attempts.map(a => a.start_ms + a.latency_ms), 1);
  const at = v => (Math.max(0, v) / total * 100).toFixed(2) + '%';
  const lane = (label, build) => { const r = node('div', 'r'); const t = node('div', 'track'); build(t); r.append(node('div', 'lab', label), t); wf.appendChild(r); };
  lane('request', t => {
    const b = node('span', 'bs total'); b.style.left = '0'; b.style.width = '100%'; b.title = ms(d.latency_ms); t.appendChild(b);
    for (const x of d.trace.decisions) { const m = node('span', 'mark'); m.style.left = at(x.at_ms); m.title = `${x.kind}: ${x.decision}`; t.appendChild(m); }
  });
  for (const a of d.trace.attempts) {
    lane(`${a.model} #${a.try} · ${a.outcome}${a.status ? ' ' + a.status : ''}`, t => {
      const b = node('span', 'bs ' + a.outcome);
      b.style.left = at(a.start_ms);
      b.style.width = at(a.latency_ms);
      b.title = `${a.model}: ${ms(a.latency_ms)}${a.error ? ' — ' + a.error : ''}`;
      t.appendChild(b);
      if (a.stream && a.ttft_ms) { const k = node('span', 'tick'); k.style.left = at(a.start_ms + a.ttft_ms); k.title = 'first token ' + ms(a.ttft_ms); t.appendChild(k); }
    });
  }
  body.appendChild(wf);

  body.appendChild(node('h4', '', 'Decisions'));
  const ol = node('ol', 'decisions');
  for (const x of d.trace.decisions) {
    const li = node('li');
    li.append(node('b', '', `${x.kind}: ${x.decision}`), ' ', node('small', '', `${x.node} · ${ms(x.at_ms)}`));
    if (x.reason) li.append(node('div', 'muted', x.reason));
    if (x.data) li.append(node('div', 'mono muted', JSON.stringify(x.data)));
    ol.appendChild(li);
  }
  if (!d.trace.decisions.length) ol.appendChild(node('li', 'muted', 'The client named a model directly.'));
  body.appendChild(ol);

  body.appendChild(node('h4', '', `Feedback (${det.feedback.length})`));
  for (const f of det.feedback) {
    body.appendChild(node('div', '', `${new Date(f.time).toLocaleString()} · ${f.score ?? '–'} ${f.label ? '· ' + f.label : ''} ${f.comment ? '· ' + f.comment : ''}`));
  }
  const form = node('form', 'fb');
  form.innerHTML = '<label for="fb-score">Score</label><input id="fb-score" type="number" min="0" max="1" step="0.1" placeholder="0 … 1">' +
    '<label for="fb-label">Label</label><input id="fb-label" type="text" maxlength="256" placeholder="e.g. good, wrong, slow">' +
    '<label for="fb-comment">Comment</label><textarea id="fb-comment" maxlength="16384"></textarea>' +
    '<span></span><div><button class="primary" type="submit">Add feedback</button> <span class="muted" id="fb-msg"></span></div>';
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const score = form.querySelector('#fb-score').value;
    const payload = {request_id: d.request_id, label: form.querySelector('#fb-label').value, comment: form.querySelector('#fb-comment').value};
    if (score !== '') payload.score = Number(score);
    try {
      await getJSON('/ui/api/feedback', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(payload)});
      openDecision(d.request_id);
    } catch (e) { text(form.querySelector('#fb-msg'), e.message); }
  });
  body.appendChild(form);

  body.appendChild(node('h4', '', 'Record'));
  body.appendChild(node('pre', 'json', JSON.stringify(d, null, 2)));
}

// renderExperiments draws one table per experiment: a row per arm, then
// the comparisons with the control and the promotion state.
function renderExperiments(list) {
  const box = $('#experiments');
  box.replaceChildren();
  if (!list.length) {
    box.appendChild(node('div', 'empty', 'No experiments. A split route appears here with its per-arm statistics.'));
    return;
  }
  const ci = e => e.ci ? ` [${e.ci[0].toFixed(3)}, ${e.ci[1].toFixed(3)}]` : '';
  const usdCI = e => usd(e.mean) + (e.ci ? ` ± ${usd((e.ci[1] - e.ci[0]) / 2)}` : '');
  for (const x of list) {
    const wrap = node('div', 'experiment');
    wrap.dataset.name = x.name;
    let title = `${x.name} · key ${x.key}`;
    if (x.route && x.route !== x.name) title += ` · route ${x.route}`;
    wrap.appendChild(node('h3', '', title));
    const t = node('table');
    t.innerHTML = '<thead><tr><th>Arm</th><th class="num">Share</th><th class="num">Requests</th><th class="num">Error rate</th><th class="num">Cost / request</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">Feedback</th><th class="num">Gate</th></tr></thead>';
    const tb = node('tbody');
    for (const a of x.arms) {
      const tr = node('tr');
      tr.dataset.arm = a.name;
      tr.append(node('td', '', a.name), node('td', 'num', pct(a.share)), node('td', 'num', num(a.requests)),
        node('td', 'num', pct(a.error_rate.mean) + (a.error_rate.ci ? ` [${pct(a.error_rate.ci[0])}, ${pct(a.error_rate.ci[1])}]` : '')),
        node('td', 'num', a.cost_per_request.n ? usdCI(a.cost_per_request) : '–'),
        node('td', 'num', ms(a.latency.p50)), node('td', 'num', ms(a.latency.p95)), node('td', 'num', ms(a.latency.p99)),
        node('td', 'num', a.feedback.n ? a.feedback.mean.toFixed(3) + ci(a.feedback) + ` (n ${num(a.feedback.n)})` : '–'),
        node('td', 'num', a.gate.n ? a.gate.mean.toFixed(3) + ci(a.gate) : '–'));
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    wrap.appendChild(t);
    const cmp = node('ul', 'comparisons');
    for (const c of x.comparisons || []) {
      const li = node('li', c.significant ? 'sig' : '');
      const d = c.metric === 'cost' ? usd(c.diff) : c.metric === 'latency' ? c.diff.toFixed(1) + ' ms' : c.metric === 'error_rate' ? pct(c.diff, 2) : c.diff.toFixed(3);
      li.textContent = `${c.arm} vs ${c.control} · ${c.metric}: ${d}` + (c.ci ? ` (${Math.round((x.confidence || 0.95) * 100)}% CI ${c.ci[0].toPrecision(3)} … ${c.ci[1].toPrecision(3)})` : '') +
        ` · p = ${c.p_value < 0.0001 ? '<0.0001' : c.p_value.toFixed(4)}` + (c.significant ? ' · significant' : '');
      cmp.appendChild(li);
    }
    wrap.appendChild(cmp);
    const p = x.promotion;
    if (p) {
      const msg = p.promoted ? `Promoted ${p.promoted.winner} on ${p.promoted.metric} at ${new Date(p.promoted.time).toLocaleString()}` :
        `Auto-promotion on ${p.metric}: ${p.status || 'watching'}`;
      wrap.appendChild(node('div', 'note' + (p.promoted ? ' promoted' : ''), msg));
    }
    box.appendChild(wrap);
  }
}

async function refreshExperiments() {
  try {
    renderExperiments((await getJSON('/ui/api/experiments')).experiments || []);
  } catch (e) {
    text($('#experiments'), 'Experiments unavailable: ' + e.message);
  }
}

async function refresh() {
  try {
    const [o, ds] = await Promise.all([
      getJSON('/ui/api/overview?window=' + state.window),
      getJSON('/ui/api/decisions?limit=25'),
    ]);
    state.overview = o;
    state.decisions = ds;
    state.failures = 0;
    render();
    renderDecisions();
    refreshExperiments();
    $('#live').classList.remove('stale');
    text($('#live-text'), 'live · ' + new Date(o.now).toLocaleTimeString());
    document.body.dataset.ready = '1';
  } catch (e) {
    state.failures++;
    $('#live').classList.add('stale');
    text($('#live-text'), 'reconnecting… (' + e.message + ')');
  }
}

function init() {
  for (const b of document.querySelectorAll('#window button')) {
    b.addEventListener('click', () => {
      state.window = Number(b.dataset.w);
      for (const x of document.querySelectorAll('#window button')) x.classList.toggle('on', x === b);
      refresh();
    });
  }
  $('#eval-route').addEventListener('change', ev => { state.evalRoute = ev.target.value; loadEval(); });
  $('#drawer-close').addEventListener('click', closeDrawer);
  $('#drawer-bg').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', ev => { if (ev.key === 'Escape') closeDrawer(); });
  let t;
  window.addEventListener('resize', () => { clearTimeout(t); t = setTimeout(() => { render(); if (state.evalRoute) loadEval(); }, 150); });
  refresh();
  setInterval(refresh, 2000);
}

init();
