import { useId } from 'react'
import { barModel, type BarBox, describeBars, type Interval } from './errorBars'

const BOX: BarBox = { width: 420, rowHeight: 26, margin: { top: 8, right: 16, bottom: 34, left: 150 } }

/**
 * Win rates with their intervals as an inline SVG (the `LineChart` look): one row per label, a dot at
 * the estimate, a whisker over the interval, a dashed line at 0.5 (no preference). Screen readers get
 * one summary sentence and a visually hidden table. Labels are React text nodes, never HTML.
 */
export function ErrorBarChart({ title, items, box = BOX }: { title: string; items: Interval[]; box?: BarBox }) {
  const id = useId()
  const m = barModel(items, box)
  const { x0, x1, y0, y1 } = m.plot
  return (
    <figure className="line-chart error-bars">
      <figcaption className="line-chart-title">{title}</figcaption>
      <svg
        role="img"
        aria-labelledby={`${id}-t`}
        aria-describedby={`${id}-d`}
        viewBox={`0 0 ${box.width} ${m.height}`}
        width="100%"
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>{describeBars(title, items)}</desc>
        <g className="grid" aria-hidden="true">
          {m.ticks.map((t) => (
            <g key={t.value}>
              <line x1={t.pos} x2={t.pos} y1={y0} y2={y1} />
              <text x={t.pos} y={y0 + 14} textAnchor="middle">
                {t.label}
              </text>
            </g>
          ))}
        </g>
        <line className="axis" x1={x0} x2={x1} y1={y0} y2={y0} aria-hidden="true" />
        <line className="half" x1={m.half} x2={m.half} y1={y0} y2={y1} aria-hidden="true" />
        <text className="axis-label" x={(x0 + x1) / 2} y={m.height - 4} textAnchor="middle" aria-hidden="true">
          win rate (ties count half)
        </text>
        {m.rows.map((r) => (
          <g key={r.label} aria-hidden="true">
            <text className="row-label" x={x0 - 8} y={r.y} dy="0.32em" textAnchor="end">
              {r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label}
            </text>
            {r.cx !== null && r.x1 !== null && r.x2 !== null ? (
              <>
                <line className="whisker" x1={r.x1} x2={r.x2} y1={r.y} y2={r.y} />
                <line className="whisker" x1={r.x1} x2={r.x1} y1={r.y - 5} y2={r.y + 5} />
                <line className="whisker" x1={r.x2} x2={r.x2} y1={r.y - 5} y2={r.y + 5} />
                <circle className="series-dot" cx={r.cx} cy={r.y} r={4} />
              </>
            ) : (
              <text className="row-label" x={x0 + 6} y={r.y} dy="0.32em">
                no comparisons yet
              </text>
            )}
          </g>
        ))}
      </svg>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">row</th>
            <th scope="col">win rate [95 % interval], comparisons</th>
          </tr>
        </thead>
        <tbody>
          {m.rows.map((r) => (
            <tr key={r.label}>
              <th scope="row">{r.label}</th>
              <td>{r.text}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  )
}
