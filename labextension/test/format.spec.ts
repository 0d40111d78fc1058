import {
  co2,
  componentName,
  duration,
  energy,
  power,
  scaled,
  scaledParts,
  water
} from '../src/format';

describe('format', () => {
  it('scales with SI prefixes like the kernel summaries', () => {
    expect(scaled(0.0214, 'Wh')).toBe('21.4 mWh');
    expect(scaled(1234, 'Wh')).toBe('1.23 kWh');
    expect(scaled(0, 'Wh')).toBe('0 Wh');
    expect(scaled(NaN, 'Wh')).toBe('0 Wh');
    expect(scaledParts(0.05838, 'Wh', 4)).toEqual(['58.38', 'mWh']);
    expect(energy(0.0000012)).toBe('1.2 µWh');
    expect(co2(0.00327)).toBe('3.27 mg CO₂e');
    expect(water(250)).toBe('250 mL');
  });

  it('writes power, durations and component names', () => {
    expect(power(8)).toBe('8 W');
    expect(power(12.345)).toBe('12.3 W');
    expect(power(712.4)).toBe('712 W');
    expect(duration(0.85)).toBe('850 ms');
    expect(duration(8.04)).toBe('8.04 s');
    expect(duration(192)).toBe('3 min 12 s');
    expect(duration(3900)).toBe('1 h 05 min');
    expect(componentName('cpu')).toBe('CPU');
    expect(componentName('gpu:1')).toBe('GPU 1');
  });
});
