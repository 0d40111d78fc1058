/**
 * The sidebar's content as DOM, from what is known of the notebook in focus.
 *
 * Pure rendering: no kernel access, no state, no listeners. Texts from the kernel are only
 * ever set as text (never as HTML). Figures carry their exact value in `data-value`.
 * Buttons carry `data-action` (and `data-cell-id`); one listener on the panel dispatches
 * clicks (`handleClick`), so the panel can patch its DOM in place every second without
 * losing a click that lands while it updates.
 */

import {
  bandRange,
  co2,
  componentName,
  duration,
  energy,
  power,
  scaled,
  scaledParts,
  water
} from './format';
import type { LinkStatus } from './link';
import type { ICell, ICluster, IFootprint, IKernelState, IProblem, IRunning } from './protocol';
import { LOAD_CODE } from './protocol';
import { sparkline } from './sparkline';

export type SidebarStatus = LinkStatus | 'no-notebook' | 'no-kernel';

/** What the sidebar shows: the notebook in focus and its kernel's link. */
export interface ISidebarView {
  notebook: string | null;
  status: SidebarStatus;
  state: IKernelState | null;
  error: string;
  language: string;
  packageVersion: string;
}

export interface ISidebarActions {
  /** Run the load button's action in the notebook's kernel. */
  load(): void;
  /** Scroll the notebook to the cell with this id. */
  showCell(cellId: string): void;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function section(title: string, className: string): HTMLElement {
  const node = el('section', `cm-Section ${className}`);
  node.append(el('h3', 'cm-Section-title', title));
  return node;
}

const STATUS_WORDS: Record<SidebarStatus, string> = {
  connecting: 'connecting',
  unavailable: 'not available',
  'not-loaded': 'not loaded',
  loading: 'loading',
  connected: 'live',
  restarting: 'restarting',
  dead: 'kernel dead',
  error: 'error',
  'no-notebook': '',
  'no-kernel': 'no kernel'
};

function header(view: ISidebarView): HTMLElement {
  const node = el('header', 'cm-Header');
  const title = el('div', 'cm-Header-title');
  title.append(el('span', 'cm-Header-name', 'Carbon'));
  if (view.notebook) {
    title.append(el('span', 'cm-Header-notebook', view.notebook));
  }
  node.append(title);
  const busy = (view.state?.running_count ?? 0) > 0;
  const words = view.status === 'connected' && busy ? 'measuring' : STATUS_WORDS[view.status];
  if (words) {
    const pill = el('span', `cm-Pill cm-Pill-${view.status}${busy ? ' cm-Pill-busy' : ''}`, words);
    pill.dataset.status = view.status;
    node.append(pill);
  }
  return node;
}

function message(className: string, lines: string[]): HTMLElement {
  const node = el('div', `cm-Message ${className}`);
  for (const line of lines) {
    node.append(el('p', undefined, line));
  }
  return node;
}

function notLoaded(view: ISidebarView): HTMLElement {
  const loading = view.status === 'loading';
  const node = message('cm-NotLoaded', [
    'carbon_magic is not loaded in this kernel.',
    'Load it to see what each tracked cell costs in energy, CO₂ and water, live while it runs.'
  ]);
  const button = el(
    'button',
    'jp-mod-styled jp-mod-accept cm-LoadButton',
    loading ? 'Loading…' : 'Load carbon_magic'
  );
  button.disabled = loading;
  button.dataset.action = 'load';
  node.append(button);
  const hint = el('p', 'cm-Hint', 'Runs ');
  hint.append(el('code', undefined, LOAD_CODE), ' in the kernel.');
  node.append(hint);
  return node;
}

function figureTile(
  label: string,
  value: number,
  parts: [string, string],
  className: string,
  band: HTMLElement | null = null
): HTMLElement {
  const tile = el('div', `cm-Tile ${className}`);
  tile.append(el('div', 'cm-Tile-label', label));
  const figure = el('div', 'cm-Tile-value');
  figure.append(el('span', 'cm-Tile-number', parts[0]), ' ', el('span', 'cm-Tile-unit', parts[1]));
  figure.dataset.value = String(value);
  tile.append(figure);
  if (band) {
    tile.append(band);
  }
  return tile;
}

/** A modelled total's range, exact values in `data-low` / `data-high`; null when all is
 * measured (low equals high) or the kernel sent no band. */
function totalBand(
  low: number | undefined,
  high: number | undefined,
  unit: (v: number) => string
): HTMLElement | null {
  if (low === undefined || high === undefined || low === high) {
    return null;
  }
  const node = el('div', 'cm-Tile-band', bandRange(low, high, unit));
  node.dataset.low = String(low);
  node.dataset.high = String(high);
  return node;
}

function totals(state: IKernelState): HTMLElement {
  const node = el('section', 'cm-Section cm-Totals');
  const tiles = el('div', 'cm-Tiles');
  const t = state.totals;
  tiles.append(
    figureTile(
      'Energy',
      t.energy_wh,
      scaledParts(t.energy_wh, 'Wh', 4),
      'cm-Total-energy',
      totalBand(t.energy_low_wh, t.energy_high_wh, energy)
    ),
    figureTile(
      'CO₂e',
      t.co2_g,
      scaledParts(t.co2_g, 'g', 4),
      'cm-Total-co2',
      totalBand(t.co2_low_g, t.co2_high_g, g => scaled(g, 'g'))
    )
  );
  const waterMl = totalWaterMl(t.water_ml, t.footprint);
  if (waterMl > 0) {
    const band = waterBand(t.footprint);
    const tile = figureTile(
      'Water',
      waterMl,
      scaledParts(waterMl / 1000, 'L', 4),
      'cm-Total-water',
      band && totalBand(band[0], band[1], water)
    );
    tile.firstElementChild!.append(' ', el('span', 'cm-How-tag cm-How-modelled', 'modelled'));
    tile.title = WATER_HOW;
    if (t.footprint) {
      tile.append(el('div', 'cm-Tile-sub cm-Water-split', waterSplit(t.footprint)));
    }
    tiles.append(tile);
  }
  const embodiedG = t.footprint?.embodied_g ?? 0;
  if (t.footprint && embodiedG > 0) {
    const tile = figureTile(
      'Embodied CO₂e',
      embodiedG,
      scaledParts(embodiedG, 'g', 4),
      'cm-Total-embodied'
    );
    tile.append(el('div', 'cm-Tile-sub', embodiedBand(t.footprint)));
    tile.title = 'The hardware’s manufacture amortised over its lifetime (Boavizta), beside CO₂e';
    tiles.append(tile);
  }
  node.append(tiles);
  const cells = `${t.count} tracked cell${t.count === 1 ? '' : 's'}`;
  const caption = el('div', 'cm-Caption', `${cells} · ${duration(t.duration_s)}`);
  const mode = el(
    'span',
    `cm-Badge${state.auto ? ' cm-Badge-on' : ''}`,
    state.auto ? 'every cell' : 'auto off'
  );
  mode.title = state.auto
    ? '%carbon on: every cell is tracked'
    : 'Track a cell with %%carbon, or every cell with %carbon on';
  caption.append(' ', mode);
  node.append(caption);
  if (waterMl <= 0) {
    // zero water is what an unset WUE gives, not a measurement: say so instead of a tile
    const note = el('div', 'cm-Caption cm-Water-unset', 'Water not estimated: set ');
    note.append(
      el('code', undefined, 'wue'),
      ' (litres per kWh) to count the data centre’s water.'
    );
    node.append(note);
  }
  return node;
}

/** Water is never measured: what every water figure's tag and title say. */
const WATER_HOW =
  'Modelled: energy × litres per kWh (on-site from the WUE, off-site from the grid’s generation mix), never measured';

/** 'water 208 µL modelled': a cell's water, which is always modelled. */
function cellWaterText(ml: number): string {
  return `water ${water(ml)} modelled`;
}

/**
 * The band of a total water figure: on-site water plus the off-site water's band (the on-site
 * WUE is given, not modelled); null without an off-site band (off, or an older kernel).
 */
function waterBand(footprint: IFootprint | null): [number, number] | null {
  if (
    !footprint ||
    footprint.water_offsite_low_ml === null ||
    footprint.water_offsite_high_ml === null
  ) {
    return null;
  }
  const onsite = footprint.water_onsite_ml;
  return [onsite + footprint.water_offsite_low_ml, onsite + footprint.water_offsite_high_ml];
}

/** Total water: on-site plus the grid's off-site water, or CodeCarbon's alone from an older kernel. */
function totalWaterMl(waterMl: number, footprint: IFootprint | null): number {
  return footprint ? footprint.water_total_ml : waterMl;
}

/** 'off-site 2.1 mL · on-site 0 L' (no off-site part when it is off). */
function waterSplit(footprint: IFootprint): string {
  const offsite =
    footprint.water_offsite_ml === null ? [] : [`off-site ${water(footprint.water_offsite_ml)}`];
  return [...offsite, `on-site ${water(footprint.water_onsite_ml)}`].join(' · ');
}

/** '0.15 .. 0.32 mg modelled', or '' without a band. */
function embodiedBand(footprint: IFootprint): string {
  const low = footprint.embodied_low_g ?? 0;
  const high = footprint.embodied_high_g ?? 0;
  return low === high ? '' : bandRange(low, high, g => scaled(g, 'g'));
}

function cellLabel(n: number | null, label: string): string {
  return n === null ? label : `[${n}] ${label}`;
}

/** '3 hosts', '1 host'. */
function hostCount(n: number, what = 'host'): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/**
 * What a cluster part's lists left off: '58 more hosts · 38 more missing', or, for a part
 * that only counts its hosts, '24 hosts 350 mWh · 40 missing'; '5 more' from an older kernel.
 */
function clusterCounts(cluster: ICluster): HTMLElement[] {
  if (cluster.more_missing === null) {
    return cluster.more > 0 ? [el('span', 'cm-Cluster-more', `${cluster.more} more`)] : [];
  }
  const listed = cluster.hosts.length + cluster.missing.length > 0;
  const hostsLeft = cluster.more - cluster.more_missing;
  const parts: HTMLElement[] = [];
  if (hostsLeft > 0) {
    const hosts = hostCount(hostsLeft, listed ? 'more host' : 'host');
    const total = !listed && cluster.energy_wh !== null ? ` ${energy(cluster.energy_wh)}` : '';
    parts.push(el('span', 'cm-Cluster-more', hosts + total));
  }
  if (cluster.more_missing > 0) {
    const missing = `${cluster.more_missing} ${listed ? 'more ' : ''}missing`;
    parts.push(el('span', 'cm-Cluster-more cm-Cluster-more-missing', missing));
  }
  return parts;
}

/**
 * 'cluster: host-a 1.2 mWh · host-b missing · 20 more hosts · 3 more missing': the cluster
 * hosts' part of a window, inside its figures (the largest hosts and the first missing ones
 * in the newest window, counts in the others); each host's exact energy in `data-value`, its
 * CO2e (or why it is missing) in `title`.
 */
function clusterLine(cluster: ICluster, className: string): HTMLElement {
  const node = el('span', `cm-Cluster ${className}`, 'cluster: ');
  node.title =
    'The Dask or Ray hosts’ part, inside the figures, each at its own intensity' +
    ' (%carbon report hosts lists every host)';
  if (cluster.energy_wh !== null) {
    node.dataset.value = String(cluster.energy_wh);
  }
  const parts: HTMLElement[] = [];
  for (const host of cluster.hosts) {
    const part = el('span', 'cm-Cluster-host', `${host.host} ${energy(host.energy_wh)}`);
    part.dataset.host = host.host;
    part.dataset.value = String(host.energy_wh);
    part.title = `${host.host}: ${energy(host.energy_wh)}, ${co2(host.co2_g)}`;
    parts.push(part);
  }
  for (const host of cluster.missing) {
    const part = el('span', 'cm-Cluster-missing', `${host.host} missing`);
    part.dataset.host = host.host;
    part.title = `${host.host} not counted: ${host.why}`;
    parts.push(part);
  }
  parts.push(...clusterCounts(cluster));
  parts.forEach((part, index) => node.append(...(index > 0 ? [' · ', part] : [part])));
  return node;
}

function running(items: IRunning[], total: number): HTMLElement {
  const node = section('Running now', 'cm-Running');
  for (const item of items) {
    const row = el('div', 'cm-Row cm-Running-row');
    row.append(
      el('span', 'cm-Row-label', cellLabel(item.n, item.label)),
      el('span', 'cm-Row-figure', duration(item.elapsed_s)),
      el('span', 'cm-Row-figure cm-Row-energy', energy(item.energy_wh))
    );
    node.append(row);
    if (item.energy_low_wh !== item.energy_high_wh) {
      node.append(
        el('div', 'cm-Running-band', bandRange(item.energy_low_wh, item.energy_high_wh, energy))
      );
    }
    if (item.cluster) {
      node.append(clusterLine(item.cluster, 'cm-Running-cluster'));
    }
  }
  if (total > items.length) {
    node.append(el('div', 'cm-Caption', `and ${total - items.length} more`));
  }
  return node;
}

function powerNow(state: IKernelState): HTMLElement {
  const node = section('Power now · whole machine', 'cm-Power');
  const entries = Object.entries(state.power_w);
  if (entries.length === 0) {
    node.append(el('div', 'cm-Caption', 'waiting for the first reading…'));
    return node;
  }
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  const largest = Math.max(...entries.map(([, w]) => w), 1e-9);
  for (const [component, watts] of entries) {
    const row = el('div', 'cm-Row cm-Power-row');
    row.dataset.component = component;
    const bar = el('span', 'cm-Bar');
    const fill = el('span', 'cm-Bar-fill');
    fill.style.width = `${Math.max((watts / largest) * 100, 1).toFixed(1)}%`;
    bar.append(fill);
    const how = state.measured.includes(component) ? 'measured' : 'modelled';
    const label = el('span', 'cm-Row-label', componentName(component));
    label.append(' ', el('span', `cm-How-tag cm-How-${how}`, how));
    row.dataset.how = how;
    const figure = el('span', 'cm-Row-figure', power(watts));
    const band = how === 'modelled' ? state.bands[component] : undefined;
    if (band) {
      const range = el(
        'span',
        'cm-Row-band',
        bandRange(watts * band[0], watts * band[1], power, '')
      );
      range.title = 'modelled: the range of the model’s validated error';
      figure.append(range);
    }
    row.append(label, bar, figure);
    node.append(row);
  }
  const spark = state.spark;
  node.append(
    el(
      'div',
      'cm-Caption cm-Machine',
      'The whole machine, other programs included; tracked cells get their share.'
    )
  );
  const trail = el('div', 'cm-Trail');
  trail.append(sparkline(spark.power_w));
  const span = spark.step_s * spark.power_w.length;
  trail.append(
    el(
      'div',
      'cm-Caption',
      `${power(total)} in all · ${spark.power_w.length > 1 ? `last ${duration(span)}` : 'trail starting'}`
    )
  );
  node.append(trail);
  return node;
}

/** A modelled cell figure's range under it (exact values in `data-low` / `data-high`);
 * nothing when all is measured (low equals high) or the kernel sent no band. */
function cellBand(
  low: number,
  high: number,
  unit: (v: number) => string,
  className: string
): HTMLElement[] {
  if (low === high) {
    return [];
  }
  const node = el('span', `cm-Cell-band ${className}`, bandRange(low, high, unit));
  node.dataset.low = String(low);
  node.dataset.high = String(high);
  return [node];
}

function cellRow(cell: ICell): HTMLElement {
  const row = el('button', `cm-Cell cm-Cell-${cell.status}`);
  row.type = 'button';
  const cellWater = totalWaterMl(cell.water_ml, cell.footprint);
  const facts = [
    cell.kind,
    cell.status,
    duration(cell.duration_s),
    ...(cellWater > 0 ? [cellWaterText(cellWater)] : []),
    ...(cell.footprint && cellWater > 0 ? [waterSplit(cell.footprint)] : [])
  ];
  row.title = [cell.line, facts.join(' · ')].filter(Boolean).join('\n');
  if (cell.id) {
    row.dataset.action = 'show-cell';
    row.dataset.cellId = cell.id;
  } else {
    row.disabled = true;
  }
  const name = el('span', 'cm-Cell-name');
  name.append(el('span', 'cm-Cell-label', cellLabel(cell.n, cell.label)));
  if (cell.line && cell.line !== cell.label) {
    name.append(el('span', 'cm-Cell-line', cell.line));
  }
  const figures = el('span', 'cm-Cell-figures');
  const wh = el('span', 'cm-Cell-energy', energy(cell.energy_wh));
  wh.dataset.value = String(cell.energy_wh);
  figures.append(wh);
  figures.append(
    ...cellBand(cell.energy_low_wh, cell.energy_high_wh, energy, 'cm-Cell-energy-band'),
    el('span', 'cm-Cell-co2', co2(cell.co2_g)),
    ...cellBand(cell.co2_low_g, cell.co2_high_g, g => scaled(g, 'g'), 'cm-Cell-co2-band')
  );
  const embodied = cell.footprint?.embodied_g ?? null;
  if (embodied !== null && embodied > 0) {
    const span = el('span', 'cm-Cell-embodied', `+ ${co2(embodied)} embodied`);
    span.title = 'The hardware’s manufacture (Boavizta), not inside the CO₂e above';
    figures.append(span);
  }
  if (cellWater > 0) {
    // 'water 208 µL' then its band '60 .. 530 µL modelled', else 'water 208 µL modelled'
    const band = waterBand(cell.footprint);
    const range = band ? cellBand(band[0], band[1], water, 'cm-Cell-water-band') : [];
    const span = el(
      'span',
      'cm-Cell-water',
      range.length ? `water ${water(cellWater)}` : cellWaterText(cellWater)
    );
    span.title = WATER_HOW;
    figures.append(span, ...range);
  }
  row.append(name, figures);
  if (cell.cluster) {
    row.append(clusterLine(cell.cluster, 'cm-Cell-cluster'));
  }
  if (cell.status !== 'ok') {
    row.append(el('span', 'cm-Cell-status', cell.status));
  } else if (cell.provisional) {
    row.append(el('span', 'cm-Cell-status', 'provisional'));
  }
  return row;
}

function lastCells(state: IKernelState): HTMLElement {
  const node = section('Last tracked cells', 'cm-Cells');
  if (state.cells.length === 0) {
    const hint = el('div', 'cm-Caption', 'None yet. Track a cell with ');
    hint.append(
      el('code', undefined, '%%carbon'),
      ', or every cell with ',
      el('code', undefined, '%carbon on'),
      '.'
    );
    node.append(hint);
    return node;
  }
  for (const cell of state.cells) {
    node.append(cellRow(cell));
  }
  return node;
}

function problemList(problems: IProblem[]): HTMLElement {
  const node = el('div', 'cm-Warning cm-Problems');
  const total = problems.reduce((sum, p) => sum + p.count, 0);
  const title = el('p', undefined, `${total} problem${total === 1 ? '' : 's'} so far (`);
  title.append(el('code', undefined, '%carbon status'), ' has them all):');
  const items = el('ul');
  for (const problem of problems) {
    const item = el(
      'li',
      'cm-Problem',
      `${problem.where}: ${problem.error_type}${problem.count > 1 ? ` ×${problem.count}` : ''}`
    );
    item.title = problem.message;
    if (problem.message) {
      item.append(el('span', 'cm-Problem-message', ` (${problem.message})`));
    }
    items.append(item);
  }
  node.append(title, items);
  return node;
}

function measuredHow(view: ISidebarView, state: IKernelState): HTMLElement {
  const node = section('How it is measured', 'cm-How');
  const list = el('dl', 'cm-Facts');
  const fact = (term: string, value: string, className = '') => {
    list.append(el('dt', undefined, term), el('dd', className, value));
  };
  for (const [component, method] of Object.entries(state.methods)) {
    fact(componentName(component), method, 'cm-Method');
  }
  if (Object.keys(state.methods).length === 0) {
    fact('Hardware', 'discovery still running…');
  }
  if (state.intensity) {
    fact('Intensity', `${Math.round(state.intensity.g_per_kwh)} g CO₂e/kWh`, 'cm-Intensity');
    fact('Source', state.intensity.source, 'cm-Source');
  }
  if (state.location) {
    fact('Location', state.location);
  }
  node.append(list);
  if (state.config_error) {
    node.append(el('div', 'cm-Warning', `Configuration problem: ${state.config_error}`));
  }
  if (state.problems.length > 0) {
    node.append(problemList(state.problems));
  }
  if (view.packageVersion) {
    node.append(
      el('div', 'cm-Caption cm-Version', `carbon_magic ${view.packageVersion} in the kernel`)
    );
  }
  return node;
}

/** The sidebar's content for `view`. */
export function renderSidebar(view: ISidebarView): HTMLElement {
  const root = el('div', 'cm-Sidebar');
  root.dataset.status = view.status;
  root.append(header(view));
  switch (view.status) {
    case 'no-notebook':
      root.append(
        message('cm-Empty', ['Open a notebook to see its kernel’s energy, CO₂ and water here.'])
      );
      return root;
    case 'no-kernel':
      root.append(message('cm-Empty', ['This notebook has no kernel.']));
      return root;
    case 'unavailable':
      root.append(
        message('cm-Unavailable', [
          `Not available for ${view.language || 'this'} kernels.`,
          'carbon_magic measures Python kernels (IPython); choose a Python kernel to use it.'
        ])
      );
      return root;
    case 'not-loaded':
    case 'loading':
      root.append(notLoaded(view));
      return root;
    case 'error':
      root.append(message('cm-Error', [view.error]));
      root.append(notLoaded({ ...view, status: 'not-loaded' }));
      return root;
    case 'dead':
      root.append(message('cm-Empty', ['The kernel is dead. Restart it to measure again.']));
      return root;
    default:
      break;
  }
  const state = view.state;
  if (!state) {
    root.append(
      message('cm-Empty', [
        view.status === 'restarting'
          ? 'The kernel is restarting…'
          : 'Connecting to the kernel… (a busy kernel answers when its cell ends)'
      ])
    );
    return root;
  }
  root.append(totals(state));
  if (state.running.length > 0) {
    root.append(running(state.running, state.running_count));
  }
  root.append(powerNow(state), lastCells(state), measuredHow(view, state));
  return root;
}

/** Run the action of the button a click landed on (if any); true if there was one. */
export function handleClick(event: Event, actions: ISidebarActions): boolean {
  const target = event.target instanceof Element ? event.target : null;
  const button = target?.closest<HTMLButtonElement>('[data-action]');
  if (!button || button.disabled) {
    return false;
  }
  const action = button.dataset.action;
  if (action === 'load') {
    actions.load();
  } else if (action === 'show-cell' && button.dataset.cellId) {
    actions.showCell(button.dataset.cellId);
  } else {
    return false;
  }
  return true;
}
