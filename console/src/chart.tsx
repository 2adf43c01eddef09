import { formatClock } from './format.js';

export type Series = { label: string; className: string; values: (number | null)[] };

/** A small SVG line chart over the last hour's minutes; a table with the same numbers follows it for screen readers. */
export function LineChart({
  title,
  unit,
  minutes,
  series,
}: {
  title: string;
  unit: string;
  minutes: string[];
  series: Series[];
}) {
  const width = 520;
  const height = 150;
  const pad = { left: 44, right: 8, top: 10, bottom: 22 };
  const max = Math.max(1, ...series.flatMap((line) => line.values.filter((value): value is number => value !== null)));
  const x = (index: number) => pad.left + (index * (width - pad.left - pad.right)) / Math.max(1, minutes.length - 1);
  const y = (value: number) => pad.top + (1 - value / max) * (height - pad.top - pad.bottom);
  const path = (values: (number | null)[]) =>
    values
      .map((value, index) =>
        value === null
          ? ''
          : `${index === 0 || values[index - 1] === null ? 'M' : 'L'}${x(index).toFixed(1)},${y(value).toFixed(1)}`,
      )
      .join(' ');
  const ticks = [0, Math.round(minutes.length / 2), minutes.length - 1].filter((index) => minutes[index]);
  return (
    <figure class="chart">
      <figcaption>
        {title}
        <span class="legend">
          {series.map((line) => (
            <span key={line.label} class={`key ${line.className}`}>
              {line.label}
            </span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${title}: ${series.map((line) => `${line.label} latest ${line.values.at(-1) ?? 'none'} ${unit}`).join(', ')}`}
      >
        <line class="axis" x1={pad.left} y1={height - pad.bottom} x2={width - pad.right} y2={height - pad.bottom} />
        <text class="tick" x={pad.left - 4} y={pad.top + 4} text-anchor="end">
          {Math.round(max)}
        </text>
        <text class="tick" x={pad.left - 4} y={height - pad.bottom} text-anchor="end">
          0
        </text>
        {ticks.map((index) => (
          <text key={index} class="tick" x={x(index)} y={height - 6} text-anchor="middle">
            {formatClock(minutes[index]!)}
          </text>
        ))}
        {series.map((line) => (
          <path key={line.label} class={`line ${line.className}`} d={path(line.values)} />
        ))}
      </svg>
      <p class="unit">{unit}</p>
    </figure>
  );
}
