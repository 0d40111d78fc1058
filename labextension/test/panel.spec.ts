import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { LinkRegistry } from '../src/link';
import { CarbonSidebar } from '../src/panel';
import { FakeKernel, hello, kernelState, settle } from './fakes';

/** A notebook panel as the sidebar sees it: title, session context, cells with ids. */
class FakeNotebook {
  constructor(
    readonly id: string,
    public kernel: FakeKernel | null,
    cellIds: string[]
  ) {
    this.title = { label: `${id}.ipynb`, changed: new Signal<any, void>(this) };
    this.sessionContext = {
      kernelChanged: new Signal<any, any>(this),
      session: { kernel }
    };
    this.content = {
      widgets: cellIds.map(cellId => ({ model: { id: cellId } })),
      activeCellIndex: 0,
      deselectAll: jest.fn(),
      scrollToCell: jest.fn(() => Promise.resolve())
    };
  }
  title: any;
  sessionContext: any;
  content: any;
  isDisposed = false;

  switchKernel(kernel: FakeKernel) {
    this.kernel = kernel;
    this.sessionContext.session = { kernel };
    this.sessionContext.kernelChanged.emit({ newValue: kernel });
  }
}

class FakeTracker {
  currentWidget: FakeNotebook | null = null;
  currentChanged = new Signal<any, FakeNotebook | null>(this);
  focus(notebook: FakeNotebook | null) {
    this.currentWidget = notebook;
    this.currentChanged.emit(notebook);
  }
}

function setup() {
  const tracker = new FakeTracker();
  const activate = jest.fn();
  const sidebar = new CarbonSidebar({
    tracker: tracker as any,
    links: new LinkRegistry(),
    activate
  });
  Widget.attach(sidebar, document.body);
  return { tracker, sidebar, activate };
}

const status = (sidebar: CarbonSidebar) =>
  (sidebar.node.querySelector('.cm-Sidebar') as HTMLElement).dataset.status;
const energy = (sidebar: CarbonSidebar) =>
  (sidebar.node.querySelector('.cm-Total-energy .cm-Tile-value') as HTMLElement | null)?.dataset
    .value;

describe('CarbonSidebar', () => {
  it('follows the notebook in focus, each with its own kernel', async () => {
    const { tracker, sidebar } = setup();
    expect(status(sidebar)).toBe('no-notebook');
    const k1 = new FakeKernel();
    const k2 = new FakeKernel();
    const one = new FakeNotebook('one', k1, ['a']);
    const two = new FakeNotebook('two', k2, ['b']);
    tracker.focus(one);
    await settle();
    k1.lastComm.receive(
      hello(kernelState({ totals: { ...kernelState().totals, energy_wh: 1.5 } }))
    );
    expect(energy(sidebar)).toBe('1.5');
    expect(sidebar.node.textContent).toContain('one.ipynb');
    tracker.focus(two);
    await settle();
    expect(status(sidebar)).toBe('connecting');
    k2.lastComm.receive(
      hello(kernelState({ totals: { ...kernelState().totals, energy_wh: 2.5 } }))
    );
    expect(energy(sidebar)).toBe('2.5');
    k1.lastComm.receive({
      type: 'state',
      version: 2,
      seq: 2,
      kernel: kernelState({ totals: { ...kernelState().totals, energy_wh: 9 } })
    });
    expect(energy(sidebar)).toBe('2.5'); // the other notebook's kernel does not show here
    tracker.focus(one);
    expect(energy(sidebar)).toBe('9'); // ...but its figures were kept up to date
    sidebar.dispose();
  });

  it('follows a kernel switch and keeps its DOM nodes across updates', async () => {
    const { tracker, sidebar } = setup();
    const notebook = new FakeNotebook('nb', new FakeKernel(), ['a']);
    tracker.focus(notebook);
    await settle();
    notebook.kernel!.lastComm.receive(hello());
    const tile = sidebar.node.querySelector('.cm-Total-energy');
    notebook.kernel!.lastComm.receive({ type: 'state', version: 2, seq: 2, kernel: kernelState() });
    expect(sidebar.node.querySelector('.cm-Total-energy')).toBe(tile);
    const r = new FakeKernel('r');
    notebook.switchKernel(r);
    await settle();
    expect(status(sidebar)).toBe('unavailable');
    sidebar.dispose();
  });

  it('loads the extension from its button and scrolls to a clicked cell', async () => {
    const { tracker, sidebar, activate } = setup();
    const kernel = new FakeKernel();
    const notebook = new FakeNotebook('nb', kernel, ['x', 'cell-a', 'y']);
    tracker.focus(notebook);
    await settle();
    kernel.lastComm.closeFromKernel();
    (sidebar.node.querySelector('.cm-LoadButton') as HTMLButtonElement).click();
    await settle();
    expect(kernel.executed.map(e => e.code)).toEqual(['%load_ext carbon_magic']);
    kernel.lastComm.receive(hello());
    (sidebar.node.querySelector('[data-cell-id="cell-a"]') as HTMLButtonElement).click();
    await settle();
    expect(activate).toHaveBeenCalledWith('nb');
    expect(notebook.content.activeCellIndex).toBe(1);
    expect(notebook.content.scrollToCell).toHaveBeenCalledWith(
      notebook.content.widgets[1],
      'center'
    );
    expect(await sidebar.showCell('not-there')).toBe(false);
    sidebar.dispose();
  });
});
