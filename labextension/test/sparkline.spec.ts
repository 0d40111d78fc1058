import { readFileSync } from 'fs';
import { join } from 'path';
import { HEADROOM, sparkline, sparklinePoints } from '../src/sparkline';

describe('sparkline', () => {
  it('fits the points in the box, highest at the top', () => {
    const points = sparklinePoints([10, 30, 20], 100, 40)
      .split(' ')
      .map(p => p.split(',').map(Number));
    expect(points.map(p => p[0])).toEqual([0, 50, 100]);
    const ys = points.map(p => p[1]);
    expect(Math.min(...ys)).toBe(ys[1]); // 30 W is the highest point
    for (const y of ys) {
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(40);
    }
  });

  it('leaves headroom above the highest value, so a steady power is a level, not a filled box', () => {
    for (const values of [
      [28, 28, 28],
      [10, 30, 20]
    ]) {
      const ys = sparklinePoints(values, 100, 40)
        .split(' ')
        .map(p => Number(p.split(',')[1]));
      expect(Math.min(...ys)).toBeCloseTo(39 - 38 * (1 - HEADROOM), 5);
    }
  });

  it('draws nothing for fewer than two points, and handles a flat line', () => {
    expect(sparklinePoints([5], 100, 40)).toBe('');
    expect(sparkline([]).querySelector('polyline')).toBeNull();
    expect(sparklinePoints([0, 0, 0], 100, 40)).not.toContain('NaN');
    expect(sparkline([1, 2]).querySelector('polyline')).not.toBeNull();
  });
});

/** The --jp-* values the sparkline's CSS reads, from JupyterLab 4's light and dark themes. */
const THEMES: Record<string, Record<string, string>> = {
  light: {
    '--jp-success-color1': '#388e3c',
    '--jp-success-color3': '#c8e6c9',
    '--jp-layout-color1': '#ffffff',
    '--jp-layout-color2': '#eeeeee',
    '--jp-border-color2': '#e0e0e0'
  },
  dark: {
    '--jp-success-color1': '#4caf50',
    '--jp-success-color3': '#c8e6c9',
    '--jp-layout-color1': '#212121',
    '--jp-layout-color2': '#424242',
    '--jp-border-color2': '#424242'
  }
};

type RGB = [number, number, number];

/**
 * `property` as the stylesheets and inline style declare it for `element` (the last matching
 * rule wins), var() references resolved through the element's ancestors. jsdom's
 * getComputedStyle drops colours written as var(), so the cascade is read from the CSSOM.
 */
function declared(element: Element, property: string): string {
  const inline = (element as HTMLElement).style?.getPropertyValue(property);
  if (inline) {
    return inline.trim();
  }
  const rules = Array.from(document.styleSheets).flatMap(sheet =>
    Array.from(sheet.cssRules).filter((rule): rule is CSSStyleRule => 'selectorText' in rule)
  );
  for (const rule of rules.reverse()) {
    const value = rule.style.getPropertyValue(property);
    if (value && element.matches(rule.selectorText)) {
      return value.trim();
    }
  }
  return '';
}

function styled(element: Element, property: string): string {
  const resolve = (value: string): string =>
    value.replace(/var\((--[\w-]+)\)/g, (_, name: string) => {
      for (let node: Element | null = element; node; node = node.parentElement) {
        const found = declared(node, name);
        if (found) {
          return resolve(found);
        }
      }
      throw new Error(`${name} is not set for ${property}`);
    });
  return resolve(declared(element, property));
}

function rgb(colour: string): RGB {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!hex) {
    throw new Error(`not a #rrggbb colour: '${colour}'`);
  }
  return [1, 2, 3].map(i => parseInt(hex[i], 16)) as RGB;
}

function over(top: RGB, alpha: number, below: RGB): RGB {
  return top.map((c, i) => alpha * c + (1 - alpha) * below[i]) as RGB;
}

/** WCAG 2 contrast ratio of two opaque colours. */
function contrast(a: RGB, b: RGB): number {
  const luminance = (c: RGB) => {
    const [r, g, bl] = c.map(v => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('sparkline in the sidebar theme', () => {
  beforeAll(() => {
    const style = document.createElement('style');
    style.textContent = readFileSync(join(__dirname, '..', 'style', 'base.css'), 'utf8');
    document.head.append(style);
  });

  it.each(Object.keys(THEMES))(
    'draws a line that stands out from its area and background (%s theme)',
    theme => {
      const sidebar = document.createElement('div');
      sidebar.className = 'cm-Sidebar';
      for (const [name, value] of Object.entries(THEMES[theme])) {
        sidebar.style.setProperty(name, value);
      }
      const svg = sparkline([20, 28, 28, 21]);
      sidebar.append(svg);
      document.body.append(sidebar);
      const area = svg.querySelector('.cm-Spark-area')!;
      const line = svg.querySelector('.cm-Spark-line')!;
      expect(svg.lastElementChild).toBe(line); // the line is painted over the area

      const background = rgb(styled(svg, 'background-color') || styled(svg, 'background'));
      const alpha =
        Number(styled(area, 'fill-opacity') || 1) * Number(styled(area, 'opacity') || 1);
      const under = over(rgb(styled(area, 'fill')), alpha, background);
      const stroke = rgb(styled(line, 'stroke'));
      expect(styled(line, 'fill')).toBe('none');
      expect(Number(styled(line, 'stroke-width'))).toBeGreaterThanOrEqual(1.5);
      // WCAG 1.4.11: graphics at least 3:1 against what is next to them.
      expect(contrast(stroke, background)).toBeGreaterThanOrEqual(3);
      expect(contrast(stroke, under)).toBeGreaterThanOrEqual(3);
      sidebar.remove();
    }
  );
});
