import type { SensorHistory } from '@lightsout/shared';
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLOURS = ['#4c8dd6', '#3fb27f', '#d0a03c', '#e0605a', '#a371f7', '#56c2d6', '#db6d28', '#8b949e'];

/**
 * The kept readings of the sensors in `columns` (one unit) as lines over
 * time, drawn by uPlot: a canvas, so 256 sensors × 720 samples stay cheap;
 * times in the viewer's zone (uPlot's default axis).
 */
export function SensorChart({ history, columns, unit }: { history: SensorHistory; columns: readonly number[]; unit: string }) {
  const container = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const style = getComputedStyle(element);
    const text = style.getPropertyValue('--text-muted').trim() || '#8b949e';
    const grid = style.getPropertyValue('--border').trim() || '#30363d';
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const data: uPlot.AlignedData = [history.at.map((at) => at / 1000), ...columns.map((column) => history.series[column] ?? [])];
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: 220,
        series: [{}, ...columns.map((column, index) => ({ label: history.sensors[column]?.name ?? '?', stroke: COLOURS[index % COLOURS.length], width: 1.5, spanGaps: false, points: { show: history.at.length < 40 } }))],
        axes: [axis, { ...axis, label: unit, labelSize: 20, size: 56 }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height: 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [history, columns, unit]);

  return <div ref={container} className="sensor-chart" data-testid="sensor-chart" data-samples={history.at.length} data-series={columns.length} />;
}
