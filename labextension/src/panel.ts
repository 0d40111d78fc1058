/**
 * The right-sidebar panel: the carbon figures of the notebook in focus.
 *
 * It follows the notebook tracker's current notebook and that notebook's kernel (kernel
 * changes, restarts), reading everything from the kernel's KernelLink; it re-renders when
 * the link changes while it is visible, and when it is shown again.
 */

import type { NotebookPanel, INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { carbonIcon } from './icon';
import type { IKernelLike, KernelLink, LinkRegistry } from './link';
import { morph } from './morph';
import { ISidebarView, handleClick, renderSidebar } from './view';

export const SIDEBAR_ID = 'carbon-magic-sidebar';

export interface ICarbonSidebarOptions {
  tracker: INotebookTracker;
  links: LinkRegistry;
  /** Bring a notebook to the front (the application shell's activateById). */
  activate: (id: string) => void;
}

export class CarbonSidebar extends Widget {
  constructor(options: ICarbonSidebarOptions) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('cm-SidebarPanel');
    this.title.icon = carbonIcon;
    this.title.caption = 'Carbon: energy, CO₂ and water of the notebook’s kernel';
    this._tracker = options.tracker;
    this._links = options.links;
    this._activate = options.activate;
    this._tracker.currentChanged.connect(this._onCurrent, this);
    this.node.addEventListener('click', event =>
      handleClick(event, {
        load: () => void this._link?.load(),
        showCell: id => void this.showCell(id)
      })
    );
    this._follow(this._tracker.currentWidget);
  }

  /** The link shown now (null when no notebook or no kernel). */
  get link(): KernelLink | null {
    return this._link;
  }

  /** Scroll the notebook in focus to the cell with `cellId`; false if it is not there. */
  async showCell(cellId: string): Promise<boolean> {
    const panel = this._panel;
    if (!panel) {
      return false;
    }
    const notebook = panel.content;
    const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
    if (index < 0) {
      return false;
    }
    this._activate(panel.id);
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    await notebook.scrollToCell(notebook.widgets[index], 'center');
    return true;
  }

  /** Render now, patching the DOM in place (the panel renders by itself on changes). */
  update(): void {
    const content = renderSidebar(this._view());
    const current = this.node.firstElementChild;
    if (current) {
      morph(current, content);
    } else {
      this.node.append(content);
    }
  }

  protected onAfterShow(): void {
    this.update();
  }

  protected onAfterAttach(): void {
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._tracker.currentChanged.disconnect(this._onCurrent, this);
    this._follow(null);
    super.dispose();
  }

  private _view(): ISidebarView {
    const link = this._link;
    const base = {
      notebook: this._panel?.title.label ?? null,
      state: null,
      error: '',
      language: '',
      packageVersion: ''
    };
    if (!this._panel) {
      return { ...base, status: 'no-notebook' };
    }
    if (!link) {
      return { ...base, status: 'no-kernel' };
    }
    return {
      ...base,
      status: link.status,
      state: link.state,
      error: link.error,
      language: link.language,
      packageVersion: link.packageVersion
    };
  }

  private _onCurrent(_: unknown, panel: NotebookPanel | null): void {
    this._follow(panel);
  }

  private _follow(panel: NotebookPanel | null): void {
    if (this._panel) {
      this._panel.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
      this._panel.title.changed.disconnect(this._changed, this);
    }
    this._panel = panel && !panel.isDisposed ? panel : null;
    if (this._panel) {
      this._panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
      this._panel.title.changed.connect(this._changed, this);
    }
    this._setKernel(this._panel?.sessionContext.session?.kernel ?? null);
  }

  private _onKernelChanged(): void {
    this._setKernel(this._panel?.sessionContext.session?.kernel ?? null);
  }

  private _setKernel(kernel: IKernelLike | null): void {
    this._link?.changed.disconnect(this._changed, this);
    this._link = kernel && !kernel.isDisposed ? this._links.linkFor(kernel) : null;
    this._link?.changed.connect(this._changed, this);
    this._changed();
  }

  private _changed(): void {
    if (this._link?.isDisposed) {
      this._link = null;
    }
    if (this.isVisible) {
      this.update();
    }
  }

  private _tracker: INotebookTracker;
  private _links: LinkRegistry;
  private _activate: (id: string) => void;
  private _panel: NotebookPanel | null = null;
  private _link: KernelLink | null = null;
}
