/**
 * The sidebar's message schema, version 2 (docs/sidebar-protocol.md; the kernel's side is
 * carbon_magic/ipython/sidebar/protocol.py).
 *
 * Kernel -> front end: `announce` (the kernel loaded the extension), `hello` (first message
 * on our comm, with the full state), `state` (at most once a second), `goodbye` (in the
 * data of a comm_close). Front end -> kernel: only `{request: 'refresh', version: 2}`.
 * The kernel's state is under the key `kernel` in `hello` and `state` (version 2; `state`
 * in version 1): a top-level `state` key would make nbclient / nbconvert store the message
 * as ipywidgets widget state in an executed notebook.
 * Everything the kernel sends is checked here before it is shown: a message that does not
 * fit the schema is dropped, and texts are only ever shown as text.
 */

/** The comm target name shared with the kernel. */
export const TARGET = 'carbon_magic';
/** The protocol version this front end speaks. */
export const PROTOCOL_VERSION = 2;
/** The only code the front end ever runs in a kernel: the load button's action. */
export const LOAD_CODE = '%load_ext carbon_magic';

/**
 * The kernel's totals and, all four or none, their band (the modelled components' band,
 * equal to the figures when all is measured). The band was added to version 2: an older
 * kernel's state has none and shows no band.
 */
export interface ITotals extends Partial<ITotalsBand> {
  energy_wh: number;
  co2_g: number;
  water_ml: number;
  duration_s: number;
  count: number;
  /** Water beyond CodeCarbon's and embodied CO2e; null from a kernel that sends none. */
  footprint: IFootprint | null;
}

/**
 * The footprint beyond CodeCarbon's (docs/footprint.md): water in mL (total, on-site,
 * off-site: the grid's, with its model's band) and the hardware's embodied CO2e in g with its
 * band; null where its parameter is off. The off-site band was added to version 2: an older
 * kernel's footprint has none (null).
 */
export interface IFootprint {
  water_total_ml: number;
  water_onsite_ml: number;
  water_offsite_ml: number | null;
  water_offsite_low_ml: number | null;
  water_offsite_high_ml: number | null;
  embodied_g: number | null;
  embodied_low_g: number | null;
  embodied_high_g: number | null;
}

export interface ITotalsBand {
  energy_low_wh: number;
  energy_high_wh: number;
  co2_low_g: number;
  co2_high_g: number;
}

/**
 * The Dask or Ray hosts' part of a cell or running window, inside its figures (each host's
 * CO2 at that host's intensity): the largest hosts and the first missing ones, in the newest
 * window of a message only (`more`: how many hosts the lists left off, `more_missing` how many
 * of those are missing), and the hosts' energy. Added to version 2: an older kernel's state has
 * none (null here), as has a window that used no cluster; a kernel from before the counts sends
 * no `energy_wh` and `more_missing` (null here).
 */
export interface ICluster {
  energy_wh: number | null;
  hosts: IClusterHost[];
  missing: IClusterMissing[];
  more: number;
  more_missing: number | null;
}

export interface IClusterHost {
  host: string;
  energy_wh: number;
  co2_g: number;
}

/** A host not counted (no answer in time, died or left mid-cell), with why. */
export interface IClusterMissing {
  host: string;
  why: string;
}

export interface IRunning {
  n: number | null;
  id: string | null;
  label: string;
  kind: string;
  elapsed_s: number;
  energy_wh: number;
  /** The band of its energy so far; equal to energy_wh when all is measured. */
  energy_low_wh: number;
  energy_high_wh: number;
  co2_g: number;
  /** The cluster hosts' part so far; null without one. */
  cluster: ICluster | null;
}

export interface ICell {
  n: number | null;
  id: string | null;
  label: string;
  line: string;
  kind: string;
  status: string;
  duration_s: number;
  energy_wh: number;
  /** The band of the modelled components' energy; equal to energy_wh when all is measured. */
  energy_low_wh: number;
  energy_high_wh: number;
  co2_g: number;
  /** The band of its CO2e (the modelled components'); equal to co2_g when all is measured. */
  co2_low_g: number;
  co2_high_g: number;
  water_ml: number;
  provisional: boolean;
  footprint: IFootprint | null;
  cluster: ICluster | null;
}

/** One kind of problem `%carbon status` lists: where, what, how often, its first message. */
export interface IProblem {
  where: string;
  error_type: string;
  count: number;
  message: string;
}

export interface IIntensity {
  g_per_kwh: number;
  source: string;
}

/** What the kernel says about itself, in every hello and state message. */
export interface IKernelState {
  time: number;
  totals: ITotals;
  running: IRunning[];
  running_count: number;
  power_w: Record<string, number>;
  measured: string[];
  methods: Record<string, string>;
  /**
   * The (low, high) ratio band of each modelled component's power that has one. Added to
   * version 2: an older kernel's state has none ({} here).
   */
  bands: Record<string, [number, number]>;
  intensity: IIntensity | null;
  location: string | null;
  auto: boolean;
  problems: IProblem[];
  config_error: string | null;
  cells: ICell[];
  spark: { step_s: number; power_w: number[] };
}

export type KernelMessage =
  | { type: 'announce'; version: number }
  | {
      type: 'hello';
      version: number;
      seq: number;
      package_version: string;
      min_interval_s: number;
      keepalive_s: number;
      kernel: IKernelState;
    }
  | { type: 'state'; version: number; seq: number; kernel: IKernelState }
  | { type: 'goodbye'; version: number; reason: string };

/** The request for the whole state, also sent as a keep-alive while the kernel is idle. */
export function refreshRequest(): { request: 'refresh'; version: number } {
  return { request: 'refresh', version: PROTOCOL_VERSION };
}

// -- checking what the kernel sent --------------------------------------------------------
// Bounds a little above the kernel's own, so that a message cannot make the panel huge.
const MAX_ITEMS = 64;
const MAX_TEXT = 400;
// A cell's cluster hosts: the kernel's own bound (8 measured, 8 missing) and host ids of 64 characters.
const MAX_HOSTS = 8;
const HOST_CHARS = 64;

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: Json): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function text(value: Json): string | undefined {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT) : undefined;
}

function optionalText(value: Json): string | null | undefined {
  return value === null ? null : text(value);
}

function optionalInt(value: Json): number | null | undefined {
  if (value === null) {
    return null;
  }
  const n = num(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function optionalNum(value: Json): number | null | undefined {
  return value === null ? null : num(value);
}

/** An optional number that an older kernel does not send: absent reads as null. */
function addedNum(value: Json | undefined): number | null | undefined {
  return value === undefined ? null : optionalNum(value);
}

function parseFootprint(value: Json): IFootprint | null | undefined {
  if (value === undefined || value === null) {
    return null; // a kernel from before the footprint
  }
  if (!isObject(value)) {
    return undefined;
  }
  const footprint = {
    water_total_ml: num(value.water_total_ml),
    water_onsite_ml: num(value.water_onsite_ml),
    water_offsite_ml: optionalNum(value.water_offsite_ml),
    water_offsite_low_ml: addedNum(value.water_offsite_low_ml),
    water_offsite_high_ml: addedNum(value.water_offsite_high_ml),
    embodied_g: optionalNum(value.embodied_g),
    embodied_low_g: optionalNum(value.embodied_low_g),
    embodied_high_g: optionalNum(value.embodied_high_g)
  };
  return complete<IFootprint>(footprint);
}

function numberMap(value: Json): Record<string, number> | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const out: Record<string, number> = Object.create(null); // no prototype to pollute
  for (const [key, raw] of Object.entries(value).slice(0, MAX_ITEMS)) {
    const n = num(raw);
    if (n === undefined) {
      return undefined;
    }
    out[key.slice(0, 32)] = n;
  }
  return out;
}

function textMap(value: Json): Record<string, string> | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const out: Record<string, string> = Object.create(null); // no prototype to pollute
  for (const [key, raw] of Object.entries(value).slice(0, MAX_ITEMS)) {
    const t = text(raw);
    if (t === undefined) {
      return undefined;
    }
    out[key.slice(0, 32)] = t;
  }
  return out;
}

function list<T>(
  value: Json,
  item: (v: Json) => T | undefined,
  limit = MAX_ITEMS
): T[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: T[] = [];
  for (const raw of value.slice(0, limit)) {
    const parsed = item(raw);
    if (parsed === undefined) {
      return undefined;
    }
    out.push(parsed);
  }
  return out;
}

/** ``fields`` as a ``T`` when every one of them parsed, else undefined. */
function complete<T>(fields: Record<string, unknown>): T | undefined {
  return Object.values(fields).every(v => v !== undefined) ? (fields as T) : undefined;
}

const TOTALS_BAND_KEYS = ['energy_low_wh', 'energy_high_wh', 'co2_low_g', 'co2_high_g'] as const;

/** The totals' band: null when the kernel sent none (older kernels), undefined when malformed. */
function parseTotalsBand(value: Record<string, Json>): ITotalsBand | null | undefined {
  if (TOTALS_BAND_KEYS.every(key => value[key] === undefined)) {
    return null;
  }
  const band = Object.fromEntries(TOTALS_BAND_KEYS.map(key => [key, num(value[key])]));
  return complete<ITotalsBand>(band);
}

function parseTotals(value: Json): ITotals | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const totals = complete<ITotals>({
    energy_wh: num(value.energy_wh),
    co2_g: num(value.co2_g),
    water_ml: num(value.water_ml),
    duration_s: num(value.duration_s),
    count: num(value.count),
    footprint: parseFootprint(value.footprint)
  });
  const band = parseTotalsBand(value);
  if (totals === undefined || band === undefined) {
    return undefined;
  }
  return band === null ? totals : { ...totals, ...band };
}

function hostText(value: Json): string | undefined {
  return text(value)?.slice(0, HOST_CHARS);
}

function parseClusterHost(value: Json): IClusterHost | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  return complete<IClusterHost>({
    host: hostText(value.host),
    energy_wh: num(value.energy_wh),
    co2_g: num(value.co2_g)
  });
}

function parseClusterMissing(value: Json): IClusterMissing | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  return complete<IClusterMissing>({ host: hostText(value.host), why: text(value.why) });
}

/** A window's cluster part: null when the kernel sent none (no cluster, older kernels),
 * undefined when malformed. Hosts beyond MAX_HOSTS count in `more`. */
function parseCluster(value: Json): ICluster | null | undefined {
  if (value === undefined || value === null) {
    return null;
  }
  if (!isObject(value)) {
    return undefined;
  }
  const hosts = list(value.hosts, parseClusterHost, MAX_HOSTS);
  const missing = list(value.missing, parseClusterMissing, MAX_HOSTS);
  const more = count(value.more);
  const moreMissing = value.more_missing === undefined ? null : count(value.more_missing);
  const energyWh = value.energy_wh === undefined ? null : num(value.energy_wh);
  if (
    !hosts ||
    !missing ||
    more === undefined ||
    moreMissing === undefined ||
    energyWh === undefined
  ) {
    return undefined;
  }
  if (moreMissing !== null && moreMissing > more) {
    return undefined;
  }
  const [hostsLeft, missingLeft] = [value.hosts, value.missing].map(sent =>
    Math.max((sent as Json[]).length - MAX_HOSTS, 0)
  );
  return {
    energy_wh: energyWh,
    hosts,
    missing,
    more: more + hostsLeft + missingLeft,
    more_missing: moreMissing === null ? null : moreMissing + missingLeft
  };
}

/** A count: an integer >= 0, else undefined. */
function count(value: Json): number | undefined {
  const n = num(value);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

function parseRunning(value: Json): IRunning | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const running = {
    n: optionalInt(value.n),
    id: optionalText(value.id),
    label: text(value.label),
    kind: text(value.kind),
    elapsed_s: num(value.elapsed_s),
    energy_wh: num(value.energy_wh),
    // an older version 2 kernel sends no band: the figure alone (low = high)
    energy_low_wh: num(value.energy_low_wh ?? value.energy_wh),
    energy_high_wh: num(value.energy_high_wh ?? value.energy_wh),
    co2_g: num(value.co2_g),
    cluster: parseCluster(value.cluster)
  };
  return complete<IRunning>(running);
}

function parseCell(value: Json): ICell | undefined {
  if (!isObject(value) || typeof value.provisional !== 'boolean') {
    return undefined;
  }
  const cell = {
    n: optionalInt(value.n),
    id: optionalText(value.id),
    label: text(value.label),
    line: text(value.line),
    kind: text(value.kind),
    status: text(value.status),
    duration_s: num(value.duration_s),
    energy_wh: num(value.energy_wh),
    // an older version 2 kernel sends no bands: the figures alone (low = high)
    energy_low_wh: num(value.energy_low_wh ?? value.energy_wh),
    energy_high_wh: num(value.energy_high_wh ?? value.energy_wh),
    co2_g: num(value.co2_g),
    co2_low_g: num(value.co2_low_g ?? value.co2_g),
    co2_high_g: num(value.co2_high_g ?? value.co2_g),
    water_ml: num(value.water_ml),
    provisional: value.provisional,
    footprint: parseFootprint(value.footprint),
    cluster: parseCluster(value.cluster)
  };
  return complete<ICell>(cell);
}

function parseProblem(value: Json): IProblem | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const problem = {
    where: text(value.where),
    error_type: text(value.error_type),
    count: num(value.count),
    message: text(value.message)
  };
  return complete<IProblem>(problem);
}

function parseIntensity(value: Json): IIntensity | null | undefined {
  if (value === null) {
    return null;
  }
  if (!isObject(value)) {
    return undefined;
  }
  const g = num(value.g_per_kwh);
  const source = text(value.source);
  return g === undefined || source === undefined ? undefined : { g_per_kwh: g, source };
}

/** The power bands: {} when the kernel sent none (older kernels), undefined when malformed. */
function bandMap(value: Json): Record<string, [number, number]> | undefined {
  if (value === undefined) {
    return Object.create(null);
  }
  if (!isObject(value)) {
    return undefined;
  }
  const out: Record<string, [number, number]> = Object.create(null); // no prototype to pollute
  for (const [key, raw] of Object.entries(value).slice(0, MAX_ITEMS)) {
    const pair = list(raw, num);
    if (pair === undefined || pair.length !== 2) {
      return undefined;
    }
    out[key.slice(0, 32)] = [pair[0], pair[1]];
  }
  return out;
}

/** The kernel's state, or undefined if anything in it does not fit the schema. */
export function parseState(value: Json): IKernelState | undefined {
  if (!isObject(value) || typeof value.auto !== 'boolean') {
    return undefined;
  }
  const spark = isObject(value.spark) ? value.spark : undefined;
  const state = {
    time: num(value.time),
    totals: parseTotals(value.totals),
    running: list(value.running, parseRunning),
    running_count: num(value.running_count),
    power_w: numberMap(value.power_w),
    measured: list(value.measured, text),
    methods: textMap(value.methods),
    bands: bandMap(value.bands),
    intensity: parseIntensity(value.intensity),
    location: optionalText(value.location),
    auto: value.auto,
    problems: list(value.problems, parseProblem),
    config_error: optionalText(value.config_error),
    cells: list(value.cells, parseCell),
    spark:
      spark && num(spark.step_s) !== undefined
        ? (() => {
            const points = list(spark.power_w, num);
            return points ? { step_s: spark.step_s as number, power_w: points } : undefined;
          })()
        : undefined
  };
  return complete<IKernelState>(state);
}

/**
 * A message from the kernel, checked against the schema; null when it is not one this
 * front end understands (another protocol version, a malformed or hostile message).
 */
export function parseKernelMessage(data: Json): KernelMessage | null {
  if (!isObject(data) || data.version !== PROTOCOL_VERSION) {
    return null;
  }
  switch (data.type) {
    case 'announce':
      return { type: 'announce', version: PROTOCOL_VERSION };
    case 'goodbye': {
      const reason = text(data.reason);
      return reason === undefined ? null : { type: 'goodbye', version: PROTOCOL_VERSION, reason };
    }
    case 'hello': {
      const kernel = parseState(data.kernel);
      const seq = num(data.seq);
      const packageVersion = text(data.package_version);
      const interval = num(data.min_interval_s);
      const keepalive = num(data.keepalive_s);
      if (
        !kernel ||
        seq === undefined ||
        packageVersion === undefined ||
        interval === undefined ||
        keepalive === undefined ||
        keepalive <= 0
      ) {
        return null;
      }
      return {
        type: 'hello',
        version: PROTOCOL_VERSION,
        seq,
        package_version: packageVersion,
        min_interval_s: interval,
        keepalive_s: keepalive,
        kernel
      };
    }
    case 'state': {
      const kernel = parseState(data.kernel);
      const seq = num(data.seq);
      return kernel && seq !== undefined
        ? { type: 'state', version: PROTOCOL_VERSION, seq, kernel }
        : null;
    }
    default:
      return null;
  }
}
