// A live time-series chart (uPlot): `data` is uPlot's column layout,
// [seconds, series 1, series 2, ...]. The plot is made once and fed new data;
// it follows its container's width.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./html.ts";

export interface ChartSeries {
  label: string;
  color: string;
  /** Formats a value for the axis and the legend. */
  format?: (v: number) => string;
}

const CHART_HEIGHT_PX = 180;
const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];

function clockTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function Chart(props: { title: string; data: number[][]; series: ChartSeries[]; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    const fmt = props.series[0]?.format ?? ((v: number) => String(v));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: CHART_HEIGHT_PX,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
      axes: [
        // Whole seconds at least (the samples are a second apart), as local clock time.
        { stroke: "#5b6473", grid: { stroke: "#eceff3" }, space: 70, incrs: TIME_STEPS_S, values: (_u, ticks) => ticks.map(clockTime) },
        { stroke: "#5b6473", grid: { stroke: "#eceff3" }, size: 76, values: (_u, vals) => vals.map((v) => fmt(v)) },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: `${s.color}22`,
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : (s.format ?? fmt)(v)),
        })),
      ],
    };
    const u = new uPlot(opts, props.data as uPlot.AlignedData, el);
    plot.current = u;
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: CHART_HEIGHT_PX }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);

  return html`<div class="chart" data-testid=${props.testId} data-points=${props.data[0]?.length ?? 0}>
    <div class="chart-title">${props.title}</div>
    <div ref=${box}></div>
  </div>`;
}
