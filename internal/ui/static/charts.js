// charts.js: the dashboard's small SVG chart kit (no dependencies).
// Every function redraws its container from scratch; callers pass plain
// arrays. Sizes follow the container's width, so redraw on resize.

const NS = 'http://www.w3.org/2000/svg';

export function svgEl(tag, attrs = {}, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// niceTicks returns about n round tick values covering [0, max].
export function niceTicks(max, n = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step * 0.001; v += step) ticks.push(+v.toPrecision(12));
  if (ticks[ticks.length - 1] < max) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

function clock(ms) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 5) + (d.getSeconds() ? ':' + String(d.getSeconds()).padStart(2, '0') : '');
}

function tooltip(container) {
  let tip = container.querySelector('.tip');
  if (!tip) {
    tip = document.createElement('div');
    tip.className = 'tip';
    tip.hidden = true;
    container.appendChild(tip);
  }
  return tip;
}

function tipRows(tip, title, rows) {
  tip.replaceChildren();
  const t = document.createElement('div');
  t.style.fontWeight = '600';
  t.textContent = title;
  tip.appendChild(t);
  for (const [color, label, value] of rows) {
    const r = document.createElement('div');
    const sw = document.createElement('span');
    sw.className = 'sw';
    sw.style.background = color;
    r.append(sw, `${label}: ${value}`);
    tip.appendChild(r);
  }
}

// lineChart draws series over shared x values (unix ms).
//   opts: {x: [...], series: [{name, color, values, area, dash}], height,
//          yFormat: v => string, stacked: false}
export function lineChart(container, opts) {
  const width = Math.max(container.clientWidth, 240);
  const height = opts.height || 190;
  const pad = {l: 48, r: 12, t: 10, b: 24};
  const x = opts.x || [];
  const fmt = opts.yFormat || (v => String(v));
  container.querySelector('svg')?.remove();
  const svg = svgEl('svg', {viewBox: `0 0 ${width} ${height}`, height, class: 'line-chart', role: 'img'});
  container.prepend(svg);
  if (x.length < 2) return svg;
  const ymax = Math.max(...opts.series.flatMap(s => s.values.map(v => v || 0)), 0);
  const ticks = niceTicks(ymax);
  const top = ticks[ticks.length - 1] || 1;
  const X = i => pad.l + (i / (x.length - 1)) * (width - pad.l - pad.r);
  const Y = v => height - pad.b - (v / top) * (height - pad.t - pad.b);
  for (const t of ticks) {
    svgEl('line', {x1: pad.l, x2: width - pad.r, y1: Y(t), y2: Y(t), class: 'gridline'}, svg);
    svgEl('text', {x: pad.l - 8, y: Y(t) + 4, 'text-anchor': 'end'}, svg).textContent = fmt(t);
  }
  const labels = Math.min(6, Math.floor((width - pad.l) / 90));
  for (let k = 0; k <= labels; k++) {
    const i = Math.round(k * (x.length - 1) / labels);
    svgEl('text', {x: X(i), y: height - 6, 'text-anchor': k === 0 ? 'start' : k === labels ? 'end' : 'middle'}, svg).textContent = clock(x[i]);
  }
  const defs = svgEl('defs', {}, svg);
  opts.series.forEach((s, si) => {
    const pts = s.values.map((v, i) => [X(i), Y(v || 0)]);
    const d = pts.map((p, i) => (i ? 'L' : 'M') + p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('');
    if (s.area) {
      const id = `g${Math.random().toString(36).slice(2)}${si}`;
      const g = svgEl('linearGradient', {id, x1: 0, x2: 0, y1: 0, y2: 1}, defs);
      svgEl('stop', {offset: '0%', 'stop-color': s.color, 'stop-opacity': 0.28}, g);
      svgEl('stop', {offset: '100%', 'stop-color': s.color, 'stop-opacity': 0.02}, g);
      svgEl('path', {d: d + `L${X(x.length - 1)},${Y(0)}L${X(0)},${Y(0)}Z`, fill: `url(#${id})`, stroke: 'none'}, svg);
    }
    svgEl('path', {d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 2, 'stroke-linejoin': 'round',
      'stroke-linecap': 'round', 'stroke-dasharray': s.dash || '', class: 'line', 'data-series': s.name}, svg);
  });
  // Hover: a guide and the values at the nearest x.
  const tip = tooltip(container);
  const guide = svgEl('line', {y1: pad.t, y2: height - pad.b, class: 'guide', visibility: 'hidden'}, svg);
  const hit = svgEl('rect', {x: pad.l, y: pad.t, width: width - pad.l - pad.r, height: height - pad.t - pad.b, fill: 'transparent'}, svg);
  hit.addEventListener('mousemove', ev => {
    const r = svg.getBoundingClientRect();
    const px = (ev.clientX - r.left) * (width / r.width);
    const i = Math.max(0, Math.min(x.length - 1, Math.round((px - pad.l) / (width - pad.l - pad.r) * (x.length - 1))));
    guide.setAttribute('x1', X(i));
    guide.setAttribute('x2', X(i));
    guide.setAttribute('visibility', 'visible');
    tipRows(tip, clock(x[i]), opts.series.map(s => [s.color, s.name, fmt(s.values[i] || 0)]));
    tip.hidden = false;
    const left = (X(i) / width) * r.width;
    tip.style.left = Math.min(left + 12, r.width - tip.offsetWidth - 4) + 'px';
    tip.style.top = '8px';
  });
  hit.addEventListener('mouseleave', () => { tip.hidden = true; guide.setAttribute('visibility', 'hidden'); });
  return svg;
}

// sparkline draws one small series into an existing <svg>.
export function sparkline(svg, values, color) {
  svg.replaceChildren();
  const w = svg.clientWidth || 160, h = svg.clientHeight || 30;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  if (!values || values.length < 2) return;
  const max = Math.max(...values, 0) || 1;
  const pts = values.map((v, i) => [(i / (values.length - 1)) * w, h - 2 - (v / max) * (h - 4)]);
  const d = pts.map((p, i) => (i ? 'L' : 'M') + p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('');
  svgEl('path', {d: d + `L${w},${h}L0,${h}Z`, fill: color, 'fill-opacity': 0.12, stroke: 'none'}, svg);
  svgEl('path', {d, fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-linejoin': 'round'}, svg);
}

// ring draws a donut showing share (0..1) with a label in the middle.
export function ring(container, share, color, label) {
  container.replaceChildren();
  const size = 96, r = 38, c = 2 * Math.PI * r;
  const svg = svgEl('svg', {viewBox: `0 0 ${size} ${size}`, width: size, height: size, class: 'ring'}, container);
  svgEl('circle', {cx: size / 2, cy: size / 2, r, fill: 'none', 'stroke-width': 10, class: 'bg'}, svg);
  const v = Math.max(0, Math.min(1, share || 0));
  svgEl('circle', {cx: size / 2, cy: size / 2, r, fill: 'none', stroke: color, 'stroke-width': 10, 'stroke-linecap': 'round',
    'stroke-dasharray': `${(v * c).toFixed(1)} ${c.toFixed(1)}`, transform: `rotate(-90 ${size / 2} ${size / 2})`}, svg);
  const t = svgEl('text', {x: size / 2, y: size / 2 + 6, 'text-anchor': 'middle', class: 'mid'}, svg);
  t.textContent = label;
  return svg;
}

// scatterChart plots points on share axes (0..1 by default).
//   opts: {series: [{name, color, points: [{x, y, label}], line, dash, r}],
//          xLabel, yLabel, xFormat, yFormat, height, xMax, yMin, yMax}
export function scatterChart(container, opts) {
  const width = Math.max(container.clientWidth, 260);
  const height = opts.height || 260;
  const pad = {l: 52, r: 16, t: 12, b: 40};
  container.querySelector('svg')?.remove();
  const svg = svgEl('svg', {viewBox: `0 0 ${width} ${height}`, height, class: 'scatter-chart', role: 'img'});
  container.prepend(svg);
  const all = opts.series.flatMap(s => s.points);
  const xMax = opts.xMax ?? Math.max(1, ...all.map(p => p.x));
  let yMin = opts.yMin ?? Math.min(...all.map(p => p.y));
  let yMax = opts.yMax ?? Math.max(...all.map(p => p.y));
  if (!(yMax > yMin)) { yMin -= 0.05; yMax += 0.05; }
  const span = yMax - yMin;
  yMin -= span * 0.08; yMax += span * 0.08;
  const X = v => pad.l + (v / xMax) * (width - pad.l - pad.r);
  const Y = v => height - pad.b - ((v - yMin) / (yMax - yMin)) * (height - pad.t - pad.b);
  const xf = opts.xFormat || (v => (v * 100).toFixed(0) + '%');
  const yf = opts.yFormat || (v => v.toFixed(3));
  for (let k = 0; k <= 4; k++) {
    const xv = xMax * k / 4, yv = yMin + (yMax - yMin) * k / 4;
    svgEl('line', {x1: pad.l, x2: width - pad.r, y1: Y(yv), y2: Y(yv), class: 'gridline'}, svg);
    svgEl('text', {x: pad.l - 8, y: Y(yv) + 4, 'text-anchor': 'end'}, svg).textContent = yf(yv);
    svgEl('text', {x: X(xv), y: height - pad.b + 16, 'text-anchor': 'middle'}, svg).textContent = xf(xv);
  }
  if (opts.xLabel) svgEl('text', {x: (pad.l + width - pad.r) / 2, y: height - 4, 'text-anchor': 'middle'}, svg).textContent = opts.xLabel;
  if (opts.yLabel) svgEl('text', {x: 12, y: (pad.t + height - pad.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${(pad.t + height - pad.b) / 2})`}, svg).textContent = opts.yLabel;
  const tip = tooltip(container);
  for (const s of opts.series) {
    if (s.line && s.points.length > 1) {
      const d = s.points.map((p, i) => (i ? 'L' : 'M') + X(p.x).toFixed(1) + ',' + Y(p.y).toFixed(1)).join('');
      svgEl('path', {d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash || '', class: 'line', 'data-series': s.name}, svg);
    }
    for (const p of s.points) {
      const c = svgEl('circle', {cx: X(p.x), cy: Y(p.y), r: s.r || 4, fill: s.color, 'stroke-width': 1.5, class: 'pt'}, svg);
      c.addEventListener('mouseenter', () => {
        tipRows(tip, p.label || s.name, [[s.color, 'cost share', xf(p.x)], [s.color, 'quality', yf(p.y)]]);
        tip.hidden = false;
        const r = svg.getBoundingClientRect();
        tip.style.left = Math.min((X(p.x) / width) * r.width + 10, r.width - tip.offsetWidth - 4) + 'px';
        tip.style.top = Math.max(0, (Y(p.y) / height) * r.height - 40) + 'px';
      });
      c.addEventListener('mouseleave', () => { tip.hidden = true; });
    }
  }
  return svg;
}
