/**
 * Figures as the kernel's views write them (carbon_magic/ipython/panel/presentation.py): scaled
 * to readable units with an SI prefix and a few significant digits, rounded before the prefix
 * is chosen (0.9997 Wh is '1 Wh'). tests/test_presentation.py checks that both agree.
 */

const PREFIXES: [number, string][] = [
  [1e6, 'M'],
  [1e3, 'k'],
  [1, ''],
  [1e-3, 'm'],
  [1e-6, 'µ'],
  [1e-9, 'n']
];

/** `value` (in `unit`) as [number, prefixed unit]: scaledParts(0.0214, 'Wh') is ['21.4', 'mWh']. */
export function scaledParts(value: number, unit: string, digits = 3): [string, string] {
  if (!Number.isFinite(value) || value === 0) {
    return ['0', unit];
  }
  const rounded = Number(value.toPrecision(digits));
  const [factor, prefix] =
    PREFIXES.find(([f]) => Math.abs(rounded) >= f) ?? PREFIXES[PREFIXES.length - 1];
  return [String(Number((rounded / factor).toPrecision(digits))), `${prefix}${unit}`];
}

/** `value` (in `unit`) with an SI prefix: scaled(0.0214, 'Wh') === '21.4 mWh'. */
export function scaled(value: number, unit: string, digits = 3): string {
  return scaledParts(value, unit, digits).join(' ');
}

/**
 * The range of a modelled figure's band, as presentation.band_range writes it:
 * bandRange(0.0421, 0.0775, energy) is '42.1 .. 77.5 mWh modelled' (`word`: what follows the
 * range; '' where a tag beside the figure already says modelled).
 */
export function bandRange(
  low: number,
  high: number,
  unit: (value: number) => string,
  word = ' modelled'
): string {
  let lowText = unit(low);
  const highText = unit(high);
  const [number, suffix] = [lowText.split(' ')[0], lowText.split(' ').slice(1).join(' ')];
  if (suffix && highText.endsWith(' ' + suffix)) {
    lowText = number;
  }
  return `${lowText} .. ${highText}${word}`;
}

/** Energy given in Wh. */
export function energy(wh: number, digits = 3): string {
  return scaled(wh, 'Wh', digits);
}

/** CO2-equivalent given in grams. */
export function co2(g: number, digits = 3): string {
  return `${scaled(g, 'g', digits)} CO₂e`;
}

/** Water given in millilitres. */
export function water(ml: number, digits = 3): string {
  return scaled(ml / 1000, 'L', digits);
}

/** Power given in W: '12.3 W', '712 W'. */
export function power(watts: number): string {
  return watts < 100 ? `${Number(watts.toPrecision(3))} W` : `${Math.round(watts)} W`;
}

/** '850 ms', '2.31 s', '3 min 12 s', '1 h 05 min'. */
export function duration(seconds: number): string {
  const ms = Number((seconds * 1000).toPrecision(3));
  if (ms < 1000) {
    return `${ms} ms`;
  }
  if (Number(seconds.toPrecision(3)) < 60) {
    return `${Number(seconds.toPrecision(3))} s`;
  }
  seconds = Math.max(seconds, 60);
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  }
  return `${Math.floor(seconds / 3600)} h ${pad((seconds % 3600) / 60)} min`;
}

/** 'cpu' -> 'CPU', 'gpu:1' -> 'GPU 1'. */
export function componentName(component: string): string {
  const [kind, index] = component.split(':', 2);
  return index === undefined ? kind.toUpperCase() : `${kind.toUpperCase()} ${index}`;
}
