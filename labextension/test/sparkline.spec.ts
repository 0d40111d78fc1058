import { sparkline, sparklinePoints } from '../src/sparkline';

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

  it('draws nothing for fewer than two points, and handles a flat line', () => {
    expect(sparklinePoints([5], 100, 40)).toBe('');
    expect(sparkline([]).querySelector('polyline')).toBeNull();
    expect(sparklinePoints([0, 0, 0], 100, 40)).not.toContain('NaN');
    expect(sparkline([1, 2]).querySelector('polyline')).not.toBeNull();
  });
});
