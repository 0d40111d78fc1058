/**
 * A stand-in for a JupyterLab kernel connection at the comm level, for unit tests of the
 * link and the panel (the real kernel is exercised by the Python and browser tests).
 * It records what the front end sends and lets a test play the kernel's part.
 */

import { Signal } from '@lumino/signaling';

import type { ICluster, IFootprint, IKernelState, IRunning } from '../src/protocol';

type CommHandler = (comm: FakeComm, msg: any) => void;

export class FakeComm {
  constructor(
    readonly kernel: FakeKernel,
    readonly targetName: string,
    readonly commId: string
  ) {}
  onMsg: (msg: any) => void = () => undefined;
  onClose: (msg: any) => void = () => undefined;
  opened: unknown[] = [];
  sent: unknown[] = [];
  closed = false;
  isDisposed = false;

  open(data?: unknown) {
    this.opened.push(data);
    return { done: Promise.resolve() };
  }

  send(data: unknown) {
    this.sent.push(data);
    return { done: Promise.resolve() };
  }

  close() {
    this.closed = true;
    this.isDisposed = true;
    return { done: Promise.resolve() };
  }

  /** The kernel sends `data` on this comm. */
  receive(data: unknown) {
    this.onMsg({ content: { comm_id: this.commId, data } });
  }

  /** The kernel closes this comm (with `data`: a goodbye, or nothing). */
  closeFromKernel(data: unknown = {}) {
    this.isDisposed = true;
    this.onClose({ content: { comm_id: this.commId, data } });
  }
}

export class FakeKernel {
  constructor(
    language = 'python',
    readonly id = `kernel-${++FakeKernel.count}`
  ) {
    this.info = Promise.resolve({ language_info: { name: language } } as any);
  }
  static count = 0;
  info: Promise<any>;
  status = 'idle';
  isDisposed = false;
  statusChanged = new Signal<any, string>(this);
  disposed = new Signal<any, void>(this);
  comms: FakeComm[] = [];
  targets = new Map<string, CommHandler>();
  executed: any[] = [];
  /** What the next execute request replies. */
  reply: any = { status: 'ok', execution_count: 0, user_expressions: {}, payload: [] };

  registerCommTarget(name: string, callback: CommHandler) {
    this.targets.set(name, callback);
  }

  removeCommTarget(name: string, callback: CommHandler) {
    if (this.targets.get(name) === callback) {
      this.targets.delete(name);
    }
  }

  createComm(target: string) {
    const comm = new FakeComm(this, target, `comm-${this.comms.length + 1}`);
    this.comms.push(comm);
    return comm as any;
  }

  requestExecute(content: any) {
    this.executed.push(content);
    return { done: Promise.resolve({ content: this.reply }) } as any;
  }

  /** The latest comm the front end opened. */
  get lastComm(): FakeComm {
    return this.comms[this.comms.length - 1];
  }

  /** The kernel opens a comm to the front end (its announce). */
  announce(): FakeComm {
    const comm = new FakeComm(this, 'carbon_magic', 'announce');
    this.targets.get('carbon_magic')?.(comm, {
      content: {
        comm_id: 'announce',
        target_name: 'carbon_magic',
        data: { type: 'announce', version: 2 }
      }
    });
    return comm;
  }

  setStatus(status: string) {
    this.status = status;
    this.statusChanged.emit(status);
  }

  dispose() {
    this.isDisposed = true;
    this.disposed.emit();
  }
}

/** Let pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/** A kernel state as carbon_magic sends it (`overrides` replace top-level fields). */
export function kernelState(overrides: Partial<IKernelState> = {}): IKernelState {
  return {
    time: 1700000000.5,
    totals: {
      energy_wh: 0.0583,
      co2_g: 0.00327,
      water_ml: 0,
      duration_s: 8.0,
      count: 1,
      footprint: null
    },
    running: [],
    running_count: 0,
    power_w: { cpu: 8.0, ram: 20.0 },
    measured: [],
    methods: { cpu: 'TDP model x CPU load', ram: 'DIMM model' },
    bands: {},
    intensity: { g_per_kwh: 56.039, source: 'country table: France' },
    location: 'France',
    auto: false,
    problems: [],
    config_error: null,
    cells: [
      {
        n: 3,
        id: 'cell-a',
        label: 'cell 3',
        line: 'import time',
        kind: 'cell',
        status: 'ok',
        duration_s: 8.0,
        energy_wh: 0.0583,
        energy_low_wh: 0.045,
        energy_high_wh: 0.0828,
        co2_g: 0.00327,
        co2_low_g: 0.00252,
        co2_high_g: 0.00464,
        water_ml: 0,
        provisional: false,
        footprint: null,
        cluster: null
      }
    ],
    spark: { step_s: 2, power_w: [21.2, 28.0, 28.1, 21.3] },
    ...overrides
  };
}

/** A footprint as a kernel with off-site water and embodied emissions sends it. */
export function footprint(overrides: Partial<IFootprint> = {}): IFootprint {
  return {
    water_total_ml: 0.208,
    water_onsite_ml: 0,
    water_offsite_ml: 0.208,
    water_offsite_low_ml: 0.0458,
    water_offsite_high_ml: 0.936,
    embodied_g: 0.0123,
    embodied_low_g: 0.0091,
    embodied_high_g: 0.0188,
    ...overrides
  };
}

/** A window running now as a kernel sends it (`overrides` replace its fields). */
export function runningWindow(overrides: Partial<IRunning> = {}): IRunning {
  return {
    n: 4,
    id: 'c4',
    label: 'cell 4',
    kind: 'cell',
    elapsed_s: 3.2,
    energy_wh: 0.0123,
    energy_low_wh: 0.0095,
    energy_high_wh: 0.0175,
    co2_g: 0.0007,
    cluster: null,
    ...overrides
  };
}

/** A cell's cluster part as a kernel sends it: one host measured, one missing. */
export function cluster(overrides: Partial<ICluster> = {}): ICluster {
  return {
    energy_wh: 0.0012,
    hosts: [{ host: 'host-a', energy_wh: 0.0012, co2_g: 0.00041 }],
    missing: [{ host: 'host-b', why: 'no answer within 2 s' }],
    more: 0,
    more_missing: 0,
    ...overrides
  };
}

/** A cluster part that only counts its hosts: 24 measured (350 mWh) and 40 missing. */
export function countedCluster(): ICluster {
  return cluster({ energy_wh: 0.35, hosts: [], missing: [], more: 64, more_missing: 40 });
}

export function hello(state: IKernelState = kernelState(), seq = 1) {
  return {
    type: 'hello',
    version: 2,
    seq,
    package_version: '0.1.0',
    min_interval_s: 1,
    keepalive_s: 10,
    kernel: state
  };
}
