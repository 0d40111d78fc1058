/** The sidebar's icon: a leaf, coloured by the theme (jp-icon3). */

import { LabIcon } from '@jupyterlab/ui-components';

const LEAF_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M20.6 3.1c-5.2-.4-10 .5-13 3.5-2.8 2.8-3.4 6.9-1.7 10.1L3.3 19.3a1 1 0 1 0 1.4 1.4l2.6-2.6c3.2 1.7 7.3 1.1 10.1-1.7 3-3 3.9-7.8 3.5-13a1.4 1.4 0 0 0-.3-.3zM15.9 15c-2 2-4.9 2.6-7.3 1.6l5.1-5.1a1 1 0 0 0-1.4-1.4l-5.1 5.1C6.2 12.8 6.8 9.9 8.8 8c2.2-2.2 5.7-3.1 9.9-3 .1 4.2-.8 7.7-2.8 10z"/>
</svg>`;

export const carbonIcon = new LabIcon({ name: 'carbon-magic:leaf', svgstr: LEAF_SVG });
