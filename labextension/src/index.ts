/**
 * carbon-magic: a JupyterLab 4 / Notebook 7 right-sidebar panel showing the energy, CO₂ and
 * water of the kernel of the notebook in focus, live, from carbon_magic's comm target.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { carbonIcon } from './icon';
import { LinkRegistry } from './link';
import { CarbonSidebar } from './panel';

const COMMAND = 'carbon-magic:show-sidebar';

/**
 * Give every notebook's kernel a link as soon as it has one, so that a kernel loading the
 * extension is heard even while its notebook is not in focus.
 */
function watchNotebooks(tracker: INotebookTracker, links: LinkRegistry): void {
  const watch = (panel: NotebookPanel) => {
    const context = panel.sessionContext;
    const follow = () => {
      const kernel = context.session?.kernel;
      if (kernel && !kernel.isDisposed) {
        links.linkFor(kernel);
      }
    };
    context.kernelChanged.connect(follow);
    follow();
    panel.disposed.connect(() => {
      const kernel = context.session?.kernel;
      if (kernel) {
        links.drop(kernel); // closes our comm while the connection still works
      }
    });
  };
  tracker.forEach(watch);
  tracker.widgetAdded.connect((_, panel) => watch(panel));
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'carbon-magic:sidebar',
  description: 'Energy, CO₂ and water of the notebook’s kernel, live (carbon_magic)',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const links = new LinkRegistry();
    watchNotebooks(tracker, links);
    const sidebar = new CarbonSidebar({
      tracker,
      links,
      activate: id => app.shell.activateById(id)
    });
    app.shell.add(sidebar, 'right', { rank: 900 });
    app.commands.addCommand(COMMAND, {
      label: 'Show Carbon Sidebar',
      caption: sidebar.title.caption,
      icon: carbonIcon,
      execute: () => app.shell.activateById(sidebar.id)
    });
  }
};

export default plugin;
