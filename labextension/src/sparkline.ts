/**
 * The power sparkline: an SVG polyline of the kernel's recent power, scaled to its own range.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The part of the box above the highest value: a steady power reads as a level, not a block. */
export const HEADROOM = 0.25;

/** Polyline points for `values` in a `width` x `height` box ('' for fewer than two values). */
export function sparklinePoints(values: number[], width: number, height: number): string {
  if (values.length < 2) {
    return '';
  }
  const bottom = Math.min(0, ...values);
  const span = (Math.max(...values) - bottom) / (1 - HEADROOM) || 1;
  const step = width / (values.length - 1);
  return values
    .map((value, index) => {
      const x = index * step;
      const y = height - 1 - ((value - bottom) / span) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** The sparkline element: a line and the area under it, themed by CSS (`cm-Spark`). */
export function sparkline(values: number[], width = 240, height = 40): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', 'cm-Spark');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const points = sparklinePoints(values, width, height);
  if (points) {
    const area = document.createElementNS(SVG_NS, 'polygon');
    area.setAttribute('class', 'cm-Spark-area');
    area.setAttribute('points', `0,${height} ${points} ${width},${height}`);
    const line = document.createElementNS(SVG_NS, 'polyline');
    line.setAttribute('class', 'cm-Spark-line');
    line.setAttribute('points', points);
    svg.append(area, line);
  }
  return svg;
}
