import { ISidebarView, handleClick, renderSidebar } from '../src/view';
import { cluster, countedCluster, footprint, kernelState, runningWindow } from './fakes';
import type { ICluster } from '../src/protocol';

function view(overrides: Partial<ISidebarView> = {}): ISidebarView {
  return {
    notebook: 'analysis.ipynb',
    status: 'connected',
    state: kernelState(),
    error: '',
    language: 'python',
    packageVersion: '0.1.0',
    ...overrides
  };
}

function click(node: Element | null) {
  const actions = { load: jest.fn(), showCell: jest.fn() };
  const event = new MouseEvent('click', { bubbles: true });
  Object.defineProperty(event, 'target', { value: node });
  return { handled: handleClick(event, actions), actions };
}

describe('renderSidebar', () => {
  it('shows totals with their exact values, the running cells and the power', () => {
    const state = kernelState({
      running: [runningWindow()],
      running_count: 6
    });
    const root = renderSidebar(view({ state }));
    expect(root.dataset.status).toBe('connected');
    const energy = root.querySelector('.cm-Total-energy .cm-Tile-value') as HTMLElement;
    expect(energy.dataset.value).toBe('0.0583');
    expect(energy.textContent).toBe('58.3 mWh');
    expect(root.querySelector('.cm-Total-co2 .cm-Tile-value')!.textContent).toBe('3.27 mg');
    expect(root.querySelector('.cm-Caption')!.textContent).toContain('1 tracked cell');
    expect(root.querySelector('.cm-Running')!.textContent).toContain('[4] cell 4');
    expect(root.querySelector('.cm-Running')!.textContent).toContain('and 5 more');
    expect(root.querySelector('.cm-Pill')!.textContent).toBe('measuring');
    const rows = Array.from(root.querySelectorAll('.cm-Power-row')).map(r => r.textContent);
    expect(rows).toEqual(['CPU modelled8 W', 'RAM modelled20 W']);
    expect(root.querySelector('.cm-Power .cm-Section-title')!.textContent).toBe(
      'Power now · whole machine'
    );
    expect(root.querySelector('.cm-Spark polyline')).not.toBeNull();
    expect(root.querySelector('.cm-How')!.textContent).toContain('TDP model x CPU load');
    expect(root.querySelector('.cm-Intensity')!.textContent).toBe('56 g CO₂e/kWh');
  });

  it('shows the band of modelled totals on the Energy and CO2 tiles, none when all is measured', () => {
    const band = {
      energy_low_wh: 0.0421,
      energy_high_wh: 0.0775,
      co2_low_g: 0.00236,
      co2_high_g: 0.00435
    };
    const totals = { ...kernelState().totals, ...band };
    const modelled = renderSidebar(view({ state: kernelState({ totals }) }));
    const energyBand = modelled.querySelector('.cm-Total-energy .cm-Tile-band') as HTMLElement;
    expect(energyBand.textContent).toBe('42.1 .. 77.5 mWh modelled');
    expect([energyBand.dataset.low, energyBand.dataset.high]).toEqual(['0.0421', '0.0775']);
    expect(modelled.querySelector('.cm-Total-co2 .cm-Tile-band')!.textContent).toBe(
      '2.36 .. 4.35 mg modelled'
    );
    const measured = { ...kernelState().totals, energy_low_wh: 0.0583, energy_high_wh: 0.0583 };
    const exact = renderSidebar(
      view({
        state: kernelState({ totals: { ...measured, co2_low_g: 0.00327, co2_high_g: 0.00327 } })
      })
    );
    expect(exact.querySelector('.cm-Tile-band')).toBeNull();
    // an older kernel's version 2 state has no band: the tiles show the figures alone
    expect(renderSidebar(view()).querySelector('.cm-Tile-band')).toBeNull();
  });

  it('shows the band of each modelled power figure, none for a measured one', () => {
    const bands = { cpu: [0.62, 1.79] as [number, number], ram: [0.5, 2.0] as [number, number] };
    const root = renderSidebar(view({ state: kernelState({ bands, measured: ['ram'] }) }));
    const band = (component: string) =>
      root.querySelector(`.cm-Power-row[data-component="${component}"] .cm-Row-band`)?.textContent;
    expect(band('cpu')).toBe('4.96 .. 14.3 W'); // the row's tag says modelled
    expect(band('ram')).toBeUndefined(); // a counter measures it: no band, whatever was sent
    expect(renderSidebar(view()).querySelector('.cm-Row-band')).toBeNull(); // an older kernel: none sent
  });

  it('shows no water tile for the structural zero of an unset WUE, and one once water is counted', () => {
    const unset = renderSidebar(view());
    expect(unset.querySelector('.cm-Total-water')).toBeNull();
    expect(unset.querySelector('.cm-Water-unset')!.textContent).toContain('Water not estimated');
    expect(unset.querySelector('.cm-Cell')!.getAttribute('title')).not.toContain('water');
    const totals = { ...kernelState().totals, water_ml: 12.5 };
    const set = renderSidebar(view({ state: kernelState({ totals }) }));
    expect(set.querySelector('.cm-Total-water .cm-Tile-value')!.textContent).toBe('12.5 mL');
    expect(set.querySelector('.cm-Total-water .cm-Tile-label')!.textContent).toBe('Water modelled');
    expect(set.querySelector('.cm-Total-water')!.getAttribute('title')).toContain('never measured');
    expect(set.querySelector('.cm-Water-unset')).toBeNull();
  });

  it('shows total water with its on-/off-site split and embodied CO2e beside CO2e, for the kernel and each cell', () => {
    const base = kernelState();
    const totals = { ...base.totals, footprint: footprint() };
    const cells = [{ ...base.cells[0], footprint: footprint() }];
    const root = renderSidebar(view({ state: kernelState({ totals, cells }) }));
    expect(root.querySelector('.cm-Total-water .cm-Tile-value')!.textContent).toBe('208 µL');
    expect(root.querySelector('.cm-Total-water .cm-Tile-band')!.textContent).toBe(
      '45.8 .. 936 µL modelled'
    );
    expect(root.querySelector('.cm-Water-split')!.textContent).toBe(
      'off-site 208 µL · on-site 0 L'
    );
    expect(root.querySelector('.cm-Water-unset')).toBeNull();
    const embodied = root.querySelector('.cm-Total-embodied')!;
    expect(embodied.querySelector('.cm-Tile-value')!.textContent).toBe('12.3 mg');
    expect(embodied.textContent).toContain('9.1 .. 18.8 mg modelled');
    expect(root.querySelector('.cm-Total-co2 .cm-Tile-value')!.textContent).toBe('3.27 mg');
    const cell = root.querySelector('.cm-Cell')!;
    expect(cell.querySelector('.cm-Cell-embodied')!.textContent).toBe('+ 12.3 mg CO₂e embodied');
    expect(cell.querySelector('.cm-Cell-water')!.textContent).toBe('water 208 µL');
    expect(cell.querySelector('.cm-Cell-water-band')!.textContent).toBe('45.8 .. 936 µL modelled');
    expect(cell.querySelector('.cm-Cell-water')!.getAttribute('title')).toContain('never measured');
    expect(cell.getAttribute('title')).toContain(
      'water 208 µL modelled · off-site 208 µL · on-site 0 L'
    );
    // on-site water (a WUE) is given, not modelled: the band is the off-site water's, on top of it
    const onsite = footprint({ water_total_ml: 0.308, water_onsite_ml: 0.1 });
    const wet = renderSidebar(
      view({ state: kernelState({ cells: [{ ...base.cells[0], footprint: onsite }] }) })
    );
    expect(wet.querySelector('.cm-Cell-water-band')!.textContent).toBe(
      '146 µL .. 1.04 mL modelled'
    );
    // a kernel that sends no band: the figure is still said to be modelled
    const unbanded = footprint({ water_offsite_low_ml: null, water_offsite_high_ml: null });
    const older = renderSidebar(
      view({
        state: kernelState({
          totals: { ...base.totals, footprint: unbanded },
          cells: [{ ...base.cells[0], footprint: unbanded }]
        })
      })
    );
    expect(older.querySelector('.cm-Cell-water')!.textContent).toBe('water 208 µL modelled');
    expect(older.querySelector('.cm-Cell-water-band')).toBeNull();
    expect(older.querySelector('.cm-Total-water .cm-Tile-band')).toBeNull();
    const off = footprint({ water_total_ml: 0, water_offsite_ml: null, embodied_g: null });
    const dry = renderSidebar(
      view({ state: kernelState({ totals: { ...base.totals, footprint: off } }) })
    );
    expect(dry.querySelector('.cm-Total-water')).toBeNull();
    expect(dry.querySelector('.cm-Total-embodied')).toBeNull();
    expect(dry.querySelector('.cm-Water-unset')).not.toBeNull();
  });

  it('says per component whether a hardware counter measures it or a model estimates it', () => {
    const root = renderSidebar(view({ state: kernelState({ measured: ['cpu'] }) }));
    const how = Array.from(root.querySelectorAll<HTMLElement>('.cm-Power-row')).map(r => [
      r.dataset.component,
      r.dataset.how
    ]);
    expect(how).toEqual([
      ['cpu', 'measured'],
      ['ram', 'modelled']
    ]);
    expect(root.querySelector('.cm-Machine')!.textContent).toContain('whole machine');
  });

  it('lists the problems %carbon status lists, as text, and says when every cell is tracked', () => {
    const problems = [
      {
        where: 'csv output',
        error_type: 'PermissionError',
        count: 3,
        message: '<b>read-only</b> folder'
      },
      { where: 'sidebar send', error_type: 'OSError', count: 1, message: '' }
    ];
    const root = renderSidebar(view({ state: kernelState({ problems, auto: true }) }));
    const items = Array.from(root.querySelectorAll('.cm-Problem')).map(item => item.textContent);
    expect(items).toEqual([
      'csv output: PermissionError ×3 (<b>read-only</b> folder)',
      'sidebar send: OSError'
    ]);
    expect(root.querySelector('.cm-Problems')!.textContent).toContain('4 problems so far');
    expect(root.querySelector('.cm-Problems b')).toBeNull();
    expect(root.querySelector('.cm-Badge')!.textContent).toBe('every cell');
    expect(renderSidebar(view()).querySelector('.cm-Problems')).toBeNull();
  });

  it("shows a modelled cell's energy and CO2e bands under each figure, none for a measured cell", () => {
    const modelled = renderSidebar(view());
    expect(modelled.querySelector('.cm-Cell-energy')!.textContent).toBe('58.3 mWh');
    const figures = Array.from(modelled.querySelector('.cm-Cell-figures')!.children);
    expect(figures.map(node => [node.className, node.textContent])).toEqual([
      ['cm-Cell-energy', '58.3 mWh'],
      ['cm-Cell-band cm-Cell-energy-band', '45 .. 82.8 mWh modelled'],
      ['cm-Cell-co2', '3.27 mg CO₂e'],
      ['cm-Cell-band cm-Cell-co2-band', '2.52 .. 4.64 mg modelled']
    ]);
    const co2Band = modelled.querySelector('.cm-Cell-co2-band') as HTMLElement;
    expect([co2Band.dataset.low, co2Band.dataset.high]).toEqual(['0.00252', '0.00464']);
    const [cell] = kernelState().cells;
    const exact = {
      energy_low_wh: 0.0583,
      energy_high_wh: 0.0583,
      co2_low_g: 0.00327,
      co2_high_g: 0.00327
    };
    const measured = renderSidebar(
      view({ state: kernelState({ cells: [{ ...cell, ...exact }] }) })
    );
    expect(measured.querySelector('.cm-Cell-energy')!.textContent).toBe('58.3 mWh');
    expect(measured.querySelector('.cm-Cell-co2')!.textContent).toBe('3.27 mg CO₂e');
    expect(measured.querySelector('.cm-Cell-band')).toBeNull();
  });

  it("shows a running window's energy band under its row, none when all is measured", () => {
    const state = (overrides = {}) =>
      kernelState({ running: [runningWindow(overrides)], running_count: 1 });
    const modelled = renderSidebar(view({ state: state() }));
    const rows = Array.from(modelled.querySelector('.cm-Running')!.children);
    expect(rows.map(node => node.className)).toEqual([
      'cm-Section-title',
      'cm-Row cm-Running-row',
      'cm-Running-band'
    ]);
    expect(rows[2].textContent).toBe('9.5 .. 17.5 mWh modelled');
    const exact = { energy_low_wh: 0.0123, energy_high_wh: 0.0123 };
    expect(
      renderSidebar(view({ state: state(exact) })).querySelector('.cm-Running-band')
    ).toBeNull();
  });

  it("shows a cell's cluster hosts under its figures, live for a running window, none without", () => {
    const base = kernelState();
    const cells = [{ ...base.cells[0], cluster: cluster() }];
    const running = [
      runningWindow({
        cluster: cluster({
          hosts: [{ host: 'host-c', energy_wh: 0.0031, co2_g: 0.001 }],
          missing: []
        })
      })
    ];
    const root = renderSidebar(view({ state: kernelState({ cells, running, running_count: 1 }) }));
    const line = root.querySelector('.cm-Cell .cm-Cell-cluster') as HTMLElement;
    expect(line.textContent).toBe('cluster: host-a 1.2 mWh · host-b missing');
    const host = line.querySelector('.cm-Cluster-host') as HTMLElement;
    expect([host.dataset.host, host.dataset.value]).toEqual(['host-a', '0.0012']);
    expect(host.title).toBe('host-a: 1.2 mWh, 410 µg CO₂e');
    expect(line.querySelector('.cm-Cluster-missing')!.getAttribute('title')).toBe(
      'host-b not counted: no answer within 2 s'
    );
    // under the figures: after them in the row, on a line of its own
    const row = root.querySelector('.cm-Cell')!;
    expect(Array.from(row.children).map(child => child.className)).toEqual([
      'cm-Cell-name',
      'cm-Cell-figures',
      'cm-Cluster cm-Cell-cluster'
    ]);
    expect(root.querySelector('.cm-Running .cm-Running-cluster')!.textContent).toBe(
      'cluster: host-c 3.1 mWh'
    );
    const lineOf = (part: ICluster) =>
      renderSidebar(
        view({ state: kernelState({ cells: [{ ...base.cells[0], cluster: part }] }) })
      ).querySelector('.cm-Cell-cluster')!.textContent;
    // a kernel from before the counts: how many the lists left off
    expect(lineOf(cluster({ more: 5, more_missing: null, energy_wh: null }))).toBe(
      'cluster: host-a 1.2 mWh · host-b missing · 5 more'
    );
    // the newest window of a large cluster: its largest hosts, its first missing ones, counts
    expect(lineOf(cluster({ energy_wh: 0.35, more: 61, more_missing: 39 }))).toBe(
      'cluster: host-a 1.2 mWh · host-b missing · 22 more hosts · 39 more missing'
    );
    // the others: counts and the hosts' energy only
    const counted = countedCluster();
    expect(lineOf(counted)).toBe('cluster: 24 hosts 350 mWh · 40 missing');
    expect(lineOf({ ...counted, more: 1, more_missing: 0 })).toBe('cluster: 1 host 350 mWh');
    // no cluster (or a kernel from before it): no line
    expect(renderSidebar(view()).querySelector('.cm-Cluster')).toBeNull();
  });

  it('lists the last cells; a click on one asks to show it by cell id', () => {
    const cells = [
      { ...kernelState().cells[0], id: 'cell-b', n: 5, label: 'train', status: 'failed' },
      { ...kernelState().cells[0], id: null, n: null, label: 'span 1', kind: 'span' }
    ];
    const root = renderSidebar(view({ state: kernelState({ cells }) }));
    const rows = root.querySelectorAll<HTMLButtonElement>('.cm-Cell');
    expect(rows).toHaveLength(2);
    expect(rows[0].classList).toContain('cm-Cell-failed');
    expect(rows[0].textContent).toContain('[5] train');
    expect(rows[0].textContent).toContain('58.3 mWh');
    const { handled, actions } = click(rows[0].querySelector('.cm-Cell-energy'));
    expect(handled).toBe(true);
    expect(actions.showCell).toHaveBeenCalledWith('cell-b');
    expect(rows[1].disabled).toBe(true); // no cell id: nothing to scroll to
    expect(click(rows[1]).handled).toBe(false);
  });

  it('explains a kernel without carbon_magic and offers the load button', () => {
    const root = renderSidebar(view({ status: 'not-loaded', state: null }));
    expect(root.textContent).toContain('not loaded in this kernel');
    expect(root.textContent).toContain('%load_ext carbon_magic');
    const button = root.querySelector('.cm-LoadButton') as HTMLButtonElement;
    const { handled, actions } = click(button);
    expect(handled).toBe(true);
    expect(actions.load).toHaveBeenCalledTimes(1);
    const loading = renderSidebar(view({ status: 'loading', state: null }));
    expect((loading.querySelector('.cm-LoadButton') as HTMLButtonElement).disabled).toBe(true);
  });

  it('says "not available" for other languages, and shows errors with a retry', () => {
    const r = renderSidebar(view({ status: 'unavailable', language: 'r', state: null }));
    expect(r.textContent).toContain('Not available for r kernels');
    expect(r.querySelector('.cm-LoadButton')).toBeNull();
    const e = renderSidebar(
      view({ status: 'error', error: 'carbon_magic is not installed', state: null })
    );
    expect(e.querySelector('.cm-Error')!.textContent).toBe('carbon_magic is not installed');
    expect(e.querySelector('.cm-LoadButton')).not.toBeNull();
    expect(renderSidebar(view({ status: 'no-notebook', notebook: null })).textContent).toContain(
      'Open a notebook'
    );
    expect(renderSidebar(view({ status: 'restarting', state: null })).textContent).toContain(
      'restarting'
    );
  });

  it('shows kernel texts as text, never as HTML', () => {
    const nasty = '<img src=x onerror="window.hacked=1">';
    const state = kernelState({
      location: nasty,
      methods: { cpu: nasty },
      cells: [
        {
          ...kernelState().cells[0],
          label: nasty,
          line: nasty,
          cluster: cluster({ hosts: [{ host: nasty, energy_wh: 1, co2_g: 1 }] })
        }
      ]
    });
    const root = renderSidebar(view({ state, notebook: nasty }));
    expect(root.querySelector('img')).toBeNull();
    expect(root.textContent).toContain(nasty);
  });
});
