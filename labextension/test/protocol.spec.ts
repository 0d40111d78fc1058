import { PROTOCOL_VERSION, parseKernelMessage, parseState, refreshRequest } from '../src/protocol';
import { cluster, countedCluster, footprint, hello, kernelState, runningWindow } from './fakes';

describe('protocol', () => {
  it('asks for data with exactly the refresh request', () => {
    expect(refreshRequest()).toEqual({ request: 'refresh', version: PROTOCOL_VERSION });
  });

  it('reads hello, state, announce and goodbye', () => {
    const h = parseKernelMessage(hello());
    expect(h?.type).toBe('hello');
    expect(h?.type === 'hello' && h.kernel.totals.energy_wh).toBe(0.0583);
    const s = parseKernelMessage({ type: 'state', version: 2, seq: 4, kernel: kernelState() });
    expect(s?.type === 'state' && s.kernel.auto).toBe(false);
    expect(s?.type === 'state' && s.seq).toBe(4);
    expect(parseKernelMessage({ type: 'announce', version: 2 })?.type).toBe('announce');
    const bye = parseKernelMessage({ type: 'goodbye', version: 2, reason: 'unloaded' });
    expect(bye?.type === 'goodbye' && bye.reason).toBe('unloaded');
  });

  it('drops other versions, unknown types and non-objects', () => {
    expect(parseKernelMessage({ ...hello(), version: 1 })).toBeNull();
    expect(parseKernelMessage({ type: 'execute', version: 2, code: 'x' })).toBeNull();
    // version 1 carried the state under `state`; version 2 has it under `kernel` only
    const { kernel, ...helloWithoutKernel } = hello();
    expect(kernel).toBeDefined();
    expect(parseKernelMessage({ ...helloWithoutKernel, state: kernelState() })).toBeNull();
    expect(
      parseKernelMessage({ type: 'state', version: 2, seq: 4, state: kernelState() })
    ).toBeNull();
    for (const junk of [null, undefined, 3, 'hello', [], [hello()], true]) {
      expect(parseKernelMessage(junk)).toBeNull();
    }
  });

  it('drops a state with a missing or mistyped field', () => {
    const good = kernelState();
    expect(parseState(good)).not.toBeUndefined();
    const broken: any[] = [
      { ...good, totals: { ...good.totals, energy_wh: '12' } },
      { ...good, totals: { ...good.totals, co2_g: NaN } },
      { ...good, power_w: { cpu: 'hot' } },
      { ...good, methods: { cpu: 7 } },
      { ...good, cells: [{ ...good.cells[0], provisional: 'no' }] },
      { ...good, cells: 'many' },
      { ...good, auto: 'yes' },
      { ...good, spark: { step_s: 2, power_w: [1, 'x'] } },
      { ...good, intensity: { g_per_kwh: 56 } },
      { ...good, problems: 2 },
      {
        ...good,
        problems: [{ where: 'csv output', error_type: 'OSError', count: '2', message: '' }]
      }
    ];
    for (const state of broken) {
      expect(parseState(state)).toBeUndefined();
    }
    const { totals, ...withoutTotals } = good;
    expect(totals).toBeDefined();
    expect(parseState(withoutTotals)).toBeUndefined();
  });

  it('reads the totals band when the kernel sends it, and a state without it (older kernels)', () => {
    const band = { energy_low_wh: 0.04, energy_high_wh: 0.08, co2_low_g: 0.002, co2_high_g: 0.004 };
    const good = kernelState();
    const withBand = parseState({ ...good, totals: { ...good.totals, ...band } });
    expect(withBand?.totals).toEqual({ ...good.totals, ...band });
    const older = parseState(good);
    expect(older?.totals).toEqual(good.totals);
    expect(older?.totals.energy_low_wh).toBeUndefined();
    const { energy_low_wh, energy_high_wh, ...olderCell } = good.cells[0];
    expect([energy_low_wh, energy_high_wh]).not.toContain(undefined);
    const cell = parseState({ ...good, cells: [olderCell] })?.cells[0];
    expect([cell?.energy_low_wh, cell?.energy_high_wh]).toEqual([
      olderCell.energy_wh,
      olderCell.energy_wh
    ]);
    // a band is all four figures or none, each a number
    expect(
      parseState({ ...good, totals: { ...good.totals, energy_low_wh: 0.04 } })
    ).toBeUndefined();
    expect(
      parseState({ ...good, totals: { ...good.totals, ...band, co2_high_g: 'x' } })
    ).toBeUndefined();
  });

  it("reads a cell's CO2e band, the figure alone from an older kernel, and drops a mistyped one", () => {
    const good = kernelState();
    const [sent] = good.cells;
    const cell = parseState(good)?.cells[0];
    expect([cell?.co2_low_g, cell?.co2_high_g]).toEqual([0.00252, 0.00464]);
    const { co2_low_g, co2_high_g, ...olderCell } = sent;
    expect([co2_low_g, co2_high_g]).not.toContain(undefined);
    const older = parseState({ ...good, cells: [olderCell] })?.cells[0];
    expect([older?.co2_low_g, older?.co2_high_g]).toEqual([sent.co2_g, sent.co2_g]);
    for (const bad of [{ co2_low_g: 'x' }, { co2_high_g: [1] }, { co2_low_g: Infinity }]) {
      expect(parseState({ ...good, cells: [{ ...sent, ...bad }] })).toBeUndefined();
    }
  });

  it('reads the power bands when sent, none from an older kernel, and drops malformed ones', () => {
    const { bands, ...older } = kernelState();
    expect(bands).toEqual({});
    expect(parseState(older)?.bands).toEqual({});
    expect(parseState({ ...older, bands: { cpu: [0.6, 1.8] } })?.bands).toEqual({
      cpu: [0.6, 1.8]
    });
    for (const bad of [{ cpu: [0.6] }, { cpu: [0.6, 'x'] }, { cpu: 0.6 }, [0.6, 1.8]]) {
      expect(parseState({ ...older, bands: bad })).toBeUndefined();
    }
  });

  it('reads the footprint of totals and cells, null from an older kernel, drops a mistyped one', () => {
    const good = kernelState();
    const totals = { ...good.totals, footprint: footprint({ water_offsite_ml: null }) };
    const cells = [{ ...good.cells[0], footprint: footprint({ embodied_g: null }) }];
    const parsed = parseState({ ...good, totals, cells })!;
    expect(parsed.totals.footprint).toEqual(footprint({ water_offsite_ml: null }));
    expect(parsed.cells[0].footprint!.embodied_g).toBeNull();
    const { footprint: _absent, ...older } = good.totals;
    expect(_absent).toBeNull();
    expect(parseState({ ...good, totals: older })!.totals.footprint).toBeNull();
    for (const broken of [
      footprint({ water_total_ml: 'a lot' as any }),
      footprint({ embodied_g: NaN }),
      footprint({ water_offsite_low_ml: 'some' as any }),
      'wet'
    ]) {
      expect(
        parseState({ ...good, totals: { ...good.totals, footprint: broken } })
      ).toBeUndefined();
    }
  });

  it("reads the off-site water's band, none (null) from a kernel of version 2 that sends none", () => {
    const good = kernelState();
    const { water_offsite_low_ml: low, water_offsite_high_ml: high, ...unbanded } = footprint();
    expect([low, high]).toEqual([0.0458, 0.936]);
    const totals = { ...good.totals, footprint: footprint() };
    const cells = [{ ...good.cells[0], footprint: unbanded }];
    const parsed = parseState({ ...good, totals, cells })!;
    expect(parsed.totals.footprint!.water_offsite_low_ml).toBe(0.0458);
    expect(parsed.totals.footprint!.water_offsite_high_ml).toBe(0.936);
    expect(parsed.cells[0].footprint).toEqual({
      ...unbanded,
      water_offsite_low_ml: null,
      water_offsite_high_ml: null
    });
  });

  it("reads a running window's energy band, the figure alone from an older kernel", () => {
    const good = kernelState();
    const running = runningWindow();
    expect(parseState({ ...good, running: [running] })!.running[0]).toEqual(running);
    const { energy_low_wh, energy_high_wh, ...older } = running;
    expect([energy_low_wh, energy_high_wh]).toEqual([0.0095, 0.0175]);
    const parsed = parseState({ ...good, running: [older] })!.running[0];
    expect([parsed.energy_low_wh, parsed.energy_high_wh]).toEqual([0.0123, 0.0123]);
    expect(parseState({ ...good, running: [{ ...running, energy_low_wh: 'x' }] })).toBeUndefined();
  });

  it('reads the cluster part of cells and running windows, null from an older kernel', () => {
    const good = kernelState();
    const running = runningWindow({ cluster: cluster({ missing: [] }) });
    const parsed = parseState({
      ...good,
      cells: [{ ...good.cells[0], cluster: cluster() }],
      running: [running]
    })!;
    expect(parsed.cells[0].cluster).toEqual(cluster());
    expect(parsed.running[0].cluster).toEqual(cluster({ missing: [] }));
    // an older kernel sends no `cluster` key at all; a cell without a cluster sends null
    const { cluster: _absent, ...olderCell } = good.cells[0];
    expect(_absent).toBeNull();
    const { cluster: _none, ...olderRunning } = running;
    expect(_none).not.toBeNull();
    const older = parseState({ ...good, cells: [olderCell], running: [olderRunning] })!;
    expect(older.cells[0].cluster).toBeNull();
    expect(older.running[0].cluster).toBeNull();
  });

  it("reads a cluster part's counts and energy, null from a kernel from before them", () => {
    const good = kernelState();
    const counted = countedCluster();
    const cells = [{ ...good.cells[0], cluster: counted }];
    expect(parseState({ ...good, cells })!.cells[0].cluster).toEqual(counted);
    const { energy_wh: _energy, more_missing: _missing, ...older } = cluster({ more: 5 });
    expect([_energy, _missing]).toEqual([0.0012, 0]);
    const olderCells = [{ ...good.cells[0], cluster: older }];
    expect(parseState({ ...good, cells: olderCells })!.cells[0].cluster).toEqual({
      ...older,
      energy_wh: null,
      more_missing: null
    });
  });

  it('drops a state whose cluster part is malformed', () => {
    const good = kernelState();
    const host = cluster().hosts[0];
    for (const broken of [
      'host-a 1.2 mWh',
      [cluster()],
      { ...cluster(), hosts: 'host-a' },
      { ...cluster(), hosts: [{ ...host, energy_wh: '1.2' }] },
      { ...cluster(), hosts: [{ ...host, co2_g: Infinity }] },
      { ...cluster(), hosts: [{ energy_wh: 1, co2_g: 1 }] },
      { ...cluster(), missing: [{ host: 'host-b' }] },
      { ...cluster(), missing: [{ host: 7, why: 'gone' }] },
      { ...cluster(), more: -1 },
      { ...cluster(), more: 1.5 },
      { ...cluster(), more_missing: -1 },
      { ...cluster(), more: 2, more_missing: 3 },
      { ...cluster(), energy_wh: 'x' },
      { hosts: [], missing: [] }
    ]) {
      const cells = [{ ...good.cells[0], cluster: broken }];
      expect(parseState({ ...good, cells })).toBeUndefined();
    }
  });

  it('bounds a cluster part to 8 hosts and 8 missing, counting the rest, and cuts host ids', () => {
    const good = kernelState();
    const hosts = Array.from({ length: 12 }, (_, i) => ({
      host: `h${i}`,
      energy_wh: 0.001,
      co2_g: 0.0001
    }));
    const missing = Array.from({ length: 10 }, (_, i) => ({ host: `m${i}`, why: 'gone' }));
    hosts[0].host = 'x'.repeat(1000);
    const cells = [{ ...good.cells[0], cluster: { hosts, missing, more: 3 } }];
    const parsed = parseState({ ...good, cells })!.cells[0].cluster!;
    expect(parsed.hosts.map(h => h.host)).toEqual([
      'x'.repeat(64),
      ...hosts.slice(1, 8).map(h => h.host)
    ]);
    expect(parsed.missing).toHaveLength(8);
    expect(parsed.more).toBe(3 + 4 + 2);
  });

  it('bounds lists and texts from a kernel, and keeps keys off prototypes', () => {
    const many = Array.from({ length: 500 }, () => kernelState().cells[0]);
    const hostile: any = { ...kernelState(), cells: many };
    hostile.power_w = JSON.parse('{"__proto__": 5, "cpu": 8}');
    hostile.methods = JSON.parse('{"__proto__": "x", "cpu": "model"}');
    hostile.location = 'x'.repeat(10000);
    const state = parseState(hostile);
    expect(state?.cells.length).toBe(64);
    expect(state?.location?.length).toBe(400);
    expect(Object.keys(state!.power_w)).toEqual(['__proto__', 'cpu']);
    expect(state!.methods.cpu).toBe('model');
    expect(({} as any).cpu).toBeUndefined();
  });
});
