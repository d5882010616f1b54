// weft's graph viewer: three Graphviz layouts of one graph (stages, blocks, operators), with pan,
// zoom, search, a details panel and expand/collapse between the levels. No dependencies.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('weft-data').textContent);
  const graph = data.graph;
  const LEVELS = ['stages', 'blocks', 'none'];
  const canvas = document.getElementById('canvas');
  const details = document.getElementById('details');
  const search = document.getElementById('search');
  const matchesEl = document.getElementById('matches');
  const nodeIndex = new Map(graph.nodes.map((n, i) => [n.name, i]));
  const groupById = new Map(graph.groups.map((g) => [g.id, g]));
  // Every group id each node lies in, outermost first ("stage1", "stage1.block0").
  const nodeGroups = graph.nodes.map((n) => {
    const ids = [];
    n.scope.forEach((s) => ids.push(ids.length ? ids[ids.length - 1] + '.' + s.name : s.name));
    return ids;
  });
  const profiled = graph.nodes.some((n) => n.time_ms !== undefined);
  const totalMs = profiled ? graph.profile.total_ms : 0;
  const state = { level: null, matches: [], matchAt: -1 };
  const views = {};

  // ---- formatting -------------------------------------------------------------------------
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }
  function count(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
    if (n >= 1e3) return (n / 1e3).toFixed(1) + 'K';
    return String(n);
  }
  function exact(n) { return Number(n).toLocaleString('en-US'); }
  function shape(s) { return '[' + s.join(', ') + ']'; }
  function row(k, v, num) { return `<tr><td>${esc(k)}</td><td${num ? ' class="num"' : ''}>${v}</td></tr>`; }
  function table(rows) { return rows.length ? `<table>${rows.join('')}</table>` : ''; }
  function link(action, arg, text) {
    return `<a data-action="${action}" data-arg="${esc(arg)}">${esc(text)}</a>`;
  }
  function timeText(ms) {
    return `${ms.toFixed(3)} ms` + (totalMs > 0 ? ` (${(100 * ms / totalMs).toFixed(1)}%)` : '');
  }

  // ---- views ------------------------------------------------------------------------------
  for (const level of LEVELS) {
    const el = canvas.querySelector(`.view[data-view="${level}"]`);
    const svg = el.querySelector('svg');
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    const vb = svg.viewBox.baseVal;
    const v = {
      level, el, svg, data: data.views[level], home: [vb.x, vb.y, vb.width, vb.height], box: null,
      unitEls: [], clusterEls: new Map(),
    };
    v.data.units.forEach((u, k) => {
      const g = document.getElementById(`${level}-u${k}`);
      v.unitEls.push(g);
      if (!g) return;
      g.addEventListener('click', (e) => { e.stopPropagation(); selectUnit(level, k, false); });
      g.addEventListener('dblclick', (e) => { e.stopPropagation(); toggleUnit(level, k); });
    });
    v.data.clusters.forEach((c, k) => {
      const g = document.getElementById(`${level}-c${k}`);
      if (!g) return;
      v.clusterEls.set(c.id, g);
      g.addEventListener('click', (e) => { e.stopPropagation(); selectGroup(level, c.id, false); });
      g.addEventListener('dblclick', (e) => { e.stopPropagation(); collapseGroup(c.id); });
    });
    views[level] = v;
  }
  function current() { return views[state.level]; }

  function setBox(v, b) {
    v.box = b;
    v.svg.setAttribute('viewBox', b.map((x) => x.toFixed(2)).join(' '));
  }
  function fit(v) { setBox(v, v.home.slice()); }

  function show(level) {
    if (!views[level]) return;
    state.level = level;
    for (const l of LEVELS) views[l].el.hidden = l !== level;
    document.querySelectorAll('[data-level]').forEach((b) => b.classList.toggle('active', b.dataset.level === level));
    if (!views[level].box) fit(views[level]);
    runSearch();
  }

  // The element's box in the root SVG's user units (what the viewBox is measured in).
  function boxOf(v, el) {
    const bb = el.getBBox();
    const m = v.svg.getScreenCTM().inverse().multiply(el.getScreenCTM());
    const xs = [], ys = [];
    for (const [x, y] of [[bb.x, bb.y], [bb.x + bb.width, bb.y], [bb.x, bb.y + bb.height], [bb.x + bb.width, bb.y + bb.height]]) {
      const p = new DOMPoint(x, y).matrixTransform(m);
      xs.push(p.x);
      ys.push(p.y);
    }
    const x0 = Math.min(...xs), y0 = Math.min(...ys);
    return { x: x0, y: y0, w: Math.max(...xs) - x0, h: Math.max(...ys) - y0 };
  }
  function focusOn(v, el) {
    if (!el) return;
    try {
      // Centre the element at 1.25 times natural size (one SVG unit per pixel) at most, zooming out
      // only as far as it takes to show the element whole with a margin around it.
      const r = boxOf(v, el);
      const px = v.svg.getBoundingClientRect();
      const w = Math.max(r.w * 1.6, (px.width || 800) / 1.25);
      const h = Math.max(r.h * 1.6, (px.height || 600) / 1.25);
      setBox(v, [r.x + r.w / 2 - w / 2, r.y + r.h / 2 - h / 2, w, h]);
    } catch (e) { /* not laid out (hidden or headless without layout): keep the view */ }
  }

  // ---- pan and zoom -------------------------------------------------------------------------
  function toSvg(v, cx, cy) {
    return new DOMPoint(cx, cy).matrixTransform(v.svg.getScreenCTM().inverse());
  }
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    const v = current();
    const p = toSvg(v, e.clientX, e.clientY);
    const k = Math.exp(Math.max(-100, Math.min(100, e.deltaY)) * 0.0022);
    const b = v.box;
    setBox(v, [p.x - (p.x - b[0]) * k, p.y - (p.y - b[1]) * k, b[2] * k, b[3] * k]);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, box: current().box.slice(), moved: false };
  });
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const v = current();
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) { drag.moved = true; canvas.classList.add('dragging'); canvas.setPointerCapture(e.pointerId); }
    const r = v.svg.getBoundingClientRect();
    const upp = Math.max(drag.box[2] / r.width, drag.box[3] / r.height);
    setBox(v, [drag.box[0] - dx * upp, drag.box[1] - dy * upp, drag.box[2], drag.box[3]]);
  });
  window.addEventListener('pointerup', () => {
    if (drag && drag.moved) {
      // The click that ends a drag must not select or clear anything.
      window.addEventListener('click', (e) => e.stopPropagation(), { capture: true, once: true });
    }
    drag = null;
    canvas.classList.remove('dragging');
  });
  canvas.addEventListener('click', () => clearSelection());

  // ---- selection and details -----------------------------------------------------------------
  function clearSelection() {
    document.querySelectorAll('#canvas .selected').forEach((e) => e.classList.remove('selected'));
    details.innerHTML = '<p class="hint">Click a box for its attributes, shapes, parameters and cost. ' +
      'Double-click a block to expand it, an operator to collapse its block.</p>';
  }
  function mark(el) {
    document.querySelectorAll('#canvas .selected').forEach((e) => e.classList.remove('selected'));
    if (el) el.classList.add('selected');
  }
  function remember(name) {
    try { history.replaceState(null, '', '#select=' + encodeURIComponent(name) + '&view=' + state.level); } catch (e) { /* file: URLs */ }
  }
  function badge(el, text) {
    const shapeEl = el && el.querySelector('path, polygon');
    const fill = shapeEl ? shapeEl.getAttribute('fill') : '#fff';
    const stroke = shapeEl ? shapeEl.getAttribute('stroke') : '#999';
    return `<span class="kind" style="background:${esc(fill)};border-color:${esc(stroke)}">${esc(text)}</span>`;
  }
  function crumbs(groupIds) {
    if (!groupIds.length) return '';
    return '<div class="crumbs">in ' + groupIds.map((id) => link('group', id, id.split('.').pop())).join(' › ') + '</div>';
  }
  function actions(buttons) {
    return buttons.length ? '<div class="actions">' + buttons.map(([a, arg, text]) =>
      `<button data-action="${a}" data-arg="${esc(arg)}">${esc(text)}</button>`).join('') + '</div>' : '';
  }
  function costRows(params, macs, ms) {
    const rows = [row('#params', exact(params), true), row('multiply-adds / image', exact(macs), true)];
    if (profiled) rows.push(row('time / batch', timeText(ms), true));
    return rows;
  }
  function edgeRows(v, k, incoming) {
    return v.data.edges.filter((e) => (incoming ? e.to : e.from) === k)
      .map((e) => row(e.value, `<code>${esc(shape(e.shape))}</code>`));
  }

  function nodeDetails(i, el, canCollapse) {
    const n = graph.nodes[i];
    const attrs = Object.entries(n.attrs).map(([k, v]) => row(k, `<code>${esc(Array.isArray(v) ? '[' + v.join(', ') + ']' : v)}</code>`));
    const ins = n.inputs.map((name, k) => row(name, `<code>${esc(shape(n.input_shapes[k]))}</code>`));
    const outs = n.outputs.map((name, k) => row(name, `<code>${esc(shape(n.output_shapes[k]))}</code>`));
    const tensors = n.param_tensors.map((p) => row(p.name, `<code>${esc(shape(p.shape))}</code>${p.counted ? '' : ' · not counted'}`));
    const cost = costRows(n.params, n.macs, n.time_ms || 0);
    if (n.all_params !== n.params) cost.splice(1, 0, row('all parameters', exact(n.all_params), true));
    let html = `<h2>${esc(n.name)}</h2>${badge(el, n.op)}${crumbs(nodeGroups[i])}`;
    html += '<h3>Attributes</h3>' + (table(attrs) || '<p class="hint">none</p>');
    html += '<h3>Inputs</h3>' + table(ins) + '<h3>Outputs</h3>' + table(outs);
    html += '<h3>Cost</h3>' + table(cost);
    if (tensors.length) html += '<h3>Parameters</h3>' + table(tensors);
    if (n.loc) html += `<h3>Defined at</h3><code>${esc(n.loc)}</code>`;
    if (canCollapse && nodeGroups[i].length) html += actions([['collapse-node', n.name, 'Collapse block']]);
    return html;
  }

  function membersOf(groupId) {
    const out = [];
    graph.nodes.forEach((n, i) => { if (nodeGroups[i].includes(groupId)) out.push(i); });
    return out;
  }
  function memberTable(nodes) {
    return table(nodes.map((i) => {
      const n = graph.nodes[i];
      return row(n.op, link('node', n.name, n.name.split('.').slice(-1)[0]) + (n.params ? ` · ${count(n.params)}` : ''));
    }));
  }
  function sums(nodes) {
    return nodes.reduce((s, i) => {
      const n = graph.nodes[i];
      return { params: s.params + n.params, macs: s.macs + n.macs, ms: s.ms + (n.time_ms || 0) };
    }, { params: 0, macs: 0, ms: 0 });
  }

  function selectUnit(level, k, focus) {
    show(level);
    const v = views[level];
    const u = v.data.units[k];
    const el = v.unitEls[k];
    mark(el);
    if (focus) focusOn(v, el);
    remember(u.id);
    if (u.kind === 'op') {
      details.innerHTML = nodeDetails(nodeIndex.get(u.id), el, level === 'none');
      return;
    }
    if (u.kind === 'block') {
      const g = groupById.get(u.id);
      let html = `<h2>${esc(u.id)}</h2>${badge(el, u.type || 'group')}`;
      if (g && g.parent) html += crumbs(nodeGroups[u.nodes[0]].slice(0, nodeGroups[u.nodes[0]].indexOf(u.id)));
      html += '<h3>Inputs</h3>' + table(edgeRows(v, k, true)) + '<h3>Outputs</h3>' + table(edgeRows(v, k, false));
      html += '<h3>Cost</h3>' + table(costRows(u.params, u.macs, u.ms));
      html += `<h3>Operators (${u.nodes.length})</h3>` + memberTable(u.nodes);
      html += actions([['expand', u.id, 'Expand']].concat(level === 'blocks' ? [['collapse-node', graph.nodes[u.nodes[0]].name, 'Collapse']] : []));
      details.innerHTML = html;
      return;
    }
    const rows = edgeRows(v, k, u.kind === 'output');
    details.innerHTML = `<h2>${esc(u.id)}</h2>${badge(el, u.kind)}<h3>Tensor</h3>${table(rows)}`;
  }

  function selectGroup(level, id, focus) {
    show(level);
    const v = views[level];
    const el = v.clusterEls.get(id);
    mark(el);
    if (focus) focusOn(v, el);
    remember(id);
    const g = groupById.get(id);
    const nodes = membersOf(id);
    const s = sums(nodes);
    let html = `<h2>${esc(id)}</h2>${badge(el, g && g.block ? g.block : 'group')}`;
    if (nodes.length) html += crumbs(nodeGroups[nodes[0]].slice(0, nodeGroups[nodes[0]].indexOf(id)));
    html += '<h3>Cost</h3>' + table(costRows(s.params, s.macs, s.ms));
    html += `<h3>Operators (${nodes.length})</h3>` + memberTable(nodes);
    html += actions([['collapse-group', id, 'Collapse']]);
    details.innerHTML = html;
  }

  // Finds `name` as a box, preferring the current level, then the most detailed one; else as a
  // cluster. Returns false when nothing has that name.
  function selectName(name, focus) {
    const order = [state.level, 'none', 'blocks', 'stages'];
    const unitAt = (l) => views[l].data.units.findIndex((u) => u.id === name);
    if (unitAt(state.level) >= 0) { selectUnit(state.level, unitAt(state.level), focus); return true; }
    if (views[state.level].clusterEls.has(name)) { selectGroup(state.level, name, focus); return true; }
    for (const l of order) if (unitAt(l) >= 0) { selectUnit(l, unitAt(l), focus); return true; }
    for (const l of order) if (views[l].clusterEls.has(name)) { selectGroup(l, name, focus); return true; }
    return false;
  }
  // The box of a coarser level that contains graph node i.
  function unitContaining(level, i) {
    return views[level].data.units.findIndex((u) => u.nodes.includes(i));
  }

  // ---- expand and collapse ---------------------------------------------------------------------
  function expand(id) {
    const from = LEVELS.indexOf(state.level);
    for (let l = Math.max(from, 0) + 1; l < LEVELS.length; ++l) {
      const level = LEVELS[l];
      if (views[level].clusterEls.has(id)) return selectGroup(level, id, true);
    }
    // A block drawn as one box at every level (no inner clusters): show its first operator.
    const first = membersOf(id)[0];
    if (first !== undefined) selectUnit('none', unitContaining('none', first), true);
  }
  function collapseNode(i) {
    for (let l = LEVELS.indexOf(state.level) - 1; l >= 0; --l) {
      const k = unitContaining(LEVELS[l], i);
      if (k >= 0 && views[LEVELS[l]].data.units[k].kind === 'block') return selectUnit(LEVELS[l], k, true);
    }
  }
  function collapseGroup(id) {
    for (let l = LEVELS.indexOf(state.level) - 1; l >= 0; --l) {
      const k = views[LEVELS[l]].data.units.findIndex((u) => u.id === id);
      if (k >= 0) return selectUnit(LEVELS[l], k, true);
    }
    const first = membersOf(id)[0];
    if (first !== undefined) collapseNode(first);
  }
  function toggleUnit(level, k) {
    const u = views[level].data.units[k];
    if (u.kind === 'block' && level !== 'none') expand(u.id);
    else if (u.kind === 'op' || u.kind === 'block') collapseNode(u.nodes[0]);
  }

  details.addEventListener('click', (e) => {
    const t = e.target.closest('[data-action]');
    if (!t) return;
    const arg = t.dataset.arg;
    switch (t.dataset.action) {
      case 'node': selectName(arg, true); break;
      case 'group': selectName(arg, true); break;
      case 'expand': expand(arg); break;
      case 'collapse-node': collapseNode(nodeIndex.get(arg)); break;
      case 'collapse-group': collapseGroup(arg); break;
    }
  });

  // ---- search ------------------------------------------------------------------------------------
  function runSearch() {
    const q = search.value.trim().toLowerCase();
    const v = current();
    document.querySelectorAll('#canvas .match').forEach((e) => e.classList.remove('match'));
    canvas.classList.toggle('searching', q.length > 0);
    state.matches = [];
    state.matchAt = -1;
    if (!q) { matchesEl.textContent = ''; return; }
    v.data.units.forEach((u, k) => {
      const hit = u.id.toLowerCase().includes(q) || u.type.toLowerCase().includes(q) ||
        u.nodes.some((i) => graph.nodes[i].name.toLowerCase().includes(q));
      if (hit && v.unitEls[k]) { state.matches.push(k); v.unitEls[k].classList.add('match'); }
    });
    matchesEl.textContent = `${state.matches.length} match${state.matches.length === 1 ? '' : 'es'}`;
  }
  search.addEventListener('input', runSearch);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && state.matches.length) {
      state.matchAt = (state.matchAt + (e.shiftKey ? -1 : 1) + state.matches.length) % state.matches.length;
      const at = state.matchAt;
      selectUnit(state.level, state.matches[at], true);
      state.matchAt = at;
    } else if (e.key === 'Escape') {
      search.value = '';
      runSearch();
      search.blur();
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.target === search) return;
    if (e.key === '/') { e.preventDefault(); search.focus(); }
    else if (e.key === 'f') fit(current());
    else if (e.key === 'Escape') clearSelection();
    else if (['1', '2', '3'].includes(e.key)) show(LEVELS[Number(e.key) - 1]);
  });
  document.querySelectorAll('[data-level]').forEach((b) => b.addEventListener('click', () => show(b.dataset.level)));
  document.getElementById('fit').addEventListener('click', () => fit(current()));

  // ---- URL fragment: #select=NAME&view=LEVEL -------------------------------------------------------
  function applyHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const level = params.get('view');
    if (level && views[level]) show(level);
    const name = params.get('select');
    if (name && !selectName(name, true))
      details.innerHTML = `<p class="hint">No node or block named <code>${esc(name)}</code>.</p>`;
  }
  window.addEventListener('hashchange', applyHash);
  show(views[data.initial] ? data.initial : 'blocks');
  applyHash();
  document.body.dataset.ready = 'true';
})();
