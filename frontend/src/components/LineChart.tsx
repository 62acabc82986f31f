import { useId } from 'react'
import { type Box, chartModel, describeSeries, downsample, formatNumber, type Point } from './lineChart'

const BOX: Box = { width: 360, height: 190, margin: { top: 10, right: 14, bottom: 40, left: 52 } }

/**
 * A small inline-SVG line chart: title, axes with labels, nice ticks, the series and a dot on its last
 * point. Screen readers get the SVG as one image with a one-sentence summary, plus a (visually hidden)
 * table of up to 20 evenly spaced values. Labels are React text nodes, never HTML.
 */
export function LineChart({
  title,
  points,
  xLabel = 'step',
  yLabel = title,
  box = BOX,
}: {
  title: string
  points: Point[]
  xLabel?: string
  yLabel?: string
  box?: Box
}) {
  const id = useId()
  const m = chartModel(points, box)
  const summary = describeSeries(title, xLabel, points)
  const { x0, x1, y0, y1 } = m.plot
  return (
    <figure className="line-chart">
      <figcaption className="line-chart-title">{title}</figcaption>
      <svg
        role="img"
        aria-labelledby={`${id}-t`}
        aria-describedby={`${id}-d`}
        viewBox={`0 0 ${box.width} ${box.height}`}
        width="100%"
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>{summary}</desc>
        <g className="grid" aria-hidden="true">
          {m.yTicks.map((t) => (
            <g key={`y${t.value}`}>
              <line x1={x0} x2={x1} y1={t.pos} y2={t.pos} />
              <text x={x0 - 6} y={t.pos} dy="0.32em" textAnchor="end">
                {t.label}
              </text>
            </g>
          ))}
          {m.xTicks.map((t) => (
            <text key={`x${t.value}`} x={t.pos} y={y0 + 14} textAnchor="middle">
              {t.label}
            </text>
          ))}
        </g>
        <line className="axis" x1={x0} x2={x1} y1={y0} y2={y0} aria-hidden="true" />
        <line className="axis" x1={x0} x2={x0} y1={y0} y2={y1} aria-hidden="true" />
        <text className="axis-label" x={(x0 + x1) / 2} y={box.height - 6} textAnchor="middle" aria-hidden="true">
          {xLabel}
        </text>
        <text
          className="axis-label"
          transform={`translate(12 ${(y0 + y1) / 2}) rotate(-90)`}
          textAnchor="middle"
          aria-hidden="true"
        >
          {yLabel}
        </text>
        {m.path && <path className="series" d={m.path} fill="none" aria-hidden="true" />}
        {m.last && <circle className="series-dot" cx={m.last.cx} cy={m.last.cy} r={3} aria-hidden="true" />}
      </svg>
      <table className="sr-only">
        <caption>{title}: values by {xLabel}</caption>
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            <th scope="col">{yLabel}</th>
          </tr>
        </thead>
        <tbody>
          {downsample(points, 20).map((p, i) => (
            <tr key={i}>
              <th scope="row">{formatNumber(p.x)}</th>
              <td>{formatNumber(p.y)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  )
}
