//! Charts, rendered from the CSV files alone (so `ecsim chart DIR` can
//! redraw them), as SVG and PNG. The font is embedded (Noto Sans), so charts
//! render on a machine without system fonts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context as _, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::de::DeserializeOwned;

use crate::output::{write_atomic, AggregateRow, CdfRow, FaultRow, SeriesRow};

const W: u32 = 1000;
const H: u32 = 620;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, ttf_noto_sans::REGULAR)
            .map_err(|_| ())
            .expect("the embedded Noto Sans font is valid");
    });
}

/// One line on a chart, with an optional band (x, low, high).
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
}

/// Everything one chart shows.
struct Spec {
    title: String,
    x_label: String,
    y_label: String,
    x_log: bool,
    y_log: bool,
    series: Vec<Series>,
    /// Shaded x ranges with a label (fault windows).
    shades: Vec<(f64, f64, String)>,
    /// Draw y = x (throughput against offered load).
    diagonal: bool,
    /// Force y to start at zero (linear axes).
    y_from_zero: bool,
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize().collect::<Result<Vec<T>, _>>().with_context(|| format!("bad rows in {}", path.display()))
}

/// Refuses to draw from damaged data: every number must be finite.
fn finite(path: &Path, rows: impl IntoIterator<Item = Vec<(&'static str, f64)>>) -> Result<()> {
    for (i, row) in rows.into_iter().enumerate() {
        if let Some((col, v)) = row.into_iter().find(|(_, v)| !v.is_finite()) {
            anyhow::bail!(
                "{}: data row {}: {col} is {v}, not a finite number; rerun the experiment",
                path.display(),
                i + 1
            );
        }
    }
    Ok(())
}

fn bounds(spec: &Spec) -> ((f64, f64), (f64, f64)) {
    let xs = spec.series.iter().flat_map(|s| s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0)));
    let ys =
        spec.series.iter().flat_map(|s| s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2])));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (mut y0, mut y1) =
        ys.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    for (a, b, _) in &spec.shades {
        x0 = x0.min(*a);
        x1 = x1.max(*b);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if spec.y_from_zero && !spec.y_log {
        y0 = y0.min(0.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    if spec.x_log {
        x0 = x0.max(1e-3);
        x1 = x1.max(x0 * 10.0);
    } else {
        let pad = (x1 - x0) * 0.02;
        x1 += pad;
    }
    if spec.y_log {
        y0 = y0.max(1e-3);
        y1 = (y1 * 2.0).max(y0 * 10.0);
    } else {
        y1 += (y1 - y0) * 0.08;
    }
    ((x0, x1), (y0, y1))
}

/// Every point a chart draws, including points along its line segments, so
/// the legend can be put where it hides nothing.
fn drawn_points(spec: &Spec) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for s in &spec.series {
        for w in s.points.windows(2) {
            for k in 0..16 {
                let f = k as f64 / 16.0;
                let lerp = |a: f64, b: f64, log: bool| {
                    if log && a > 0.0 && b > 0.0 {
                        (a.ln() + (b.ln() - a.ln()) * f).exp()
                    } else {
                        a + (b - a) * f
                    }
                };
                pts.push((lerp(w[0].0, w[1].0, spec.x_log), lerp(w[0].1, w[1].1, spec.y_log)));
            }
        }
        pts.extend(s.points.iter().copied());
        pts.extend(s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]));
    }
    pts
}

/// Picks the legend corner that covers no data; if every corner does, keeps
/// the upper left and returns the headroom (a share of the y range) that
/// lifts the data clear of it.
fn legend_place(spec: &Spec, x: (f64, f64), y: (f64, f64)) -> (SeriesLabelPosition, f64) {
    let labels: Vec<usize> = spec
        .series
        .iter()
        .map(|s| s.name.chars().count())
        .chain(spec.shades.first().map(|s| s.2.chars().count()))
        .chain(spec.diagonal.then_some(26))
        .collect();
    let entries = labels.len() as f64;
    let wf = ((labels.iter().max().copied().unwrap_or(10) as f64) * 8.6 + 60.0) / f64::from(W - 140);
    let hf = (entries * 21.0 + 24.0) / f64::from(H - 150);
    let norm = |v: f64, (a, b): (f64, f64), log: bool| {
        if log {
            (v.max(a).ln() - a.ln()) / (b.ln() - a.ln())
        } else {
            (v - a) / (b - a)
        }
    };
    let pts: Vec<(f64, f64)> =
        drawn_points(spec).into_iter().map(|(px, py)| (norm(px, x, spec.x_log), norm(py, y, spec.y_log))).collect();
    let free =
        |x0: f64, x1: f64, y0: f64, y1: f64| !pts.iter().any(|&(px, py)| px >= x0 && px <= x1 && py >= y0 && py <= y1);
    let corners = [
        (SeriesLabelPosition::UpperLeft, (0.0, wf, 1.0 - hf, 1.0)),
        (SeriesLabelPosition::UpperRight, (1.0 - wf, 1.0, 1.0 - hf, 1.0)),
        (SeriesLabelPosition::LowerRight, (1.0 - wf, 1.0, 0.0, hf)),
        (SeriesLabelPosition::LowerLeft, (0.0, wf, 0.0, hf)),
        (SeriesLabelPosition::MiddleRight, (1.0 - wf, 1.0, 0.5 - hf / 2.0, 0.5 + hf / 2.0)),
    ];
    for (pos, (x0, x1, y0, y1)) in corners {
        if free(x0, x1, y0, y1) {
            return (pos, 0.0);
        }
    }
    (SeriesLabelPosition::UpperLeft, hf / (1.0 - hf).max(0.2))
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    spec: &Spec,
    xr: X,
    yr: Y,
    legend: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", spec.title);
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(&spec.title, ("sans-serif", 26))
        .margin(18)
        .x_label_area_size(55)
        .y_label_area_size(85)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_label_formatter(&|v| if spec.x_log { log_tick(*v) } else { short(*v) })
        .y_label_formatter(&|v| if spec.y_log { log_tick(*v) } else { short(*v) })
        .draw()
        .map_err(e)?;
    let (y0, y1) = {
        let r = chart.y_range();
        (r.start, r.end)
    };
    for (i, (a, b, label)) in spec.shades.iter().enumerate() {
        let shade = RGBColor(255, 170, 60).mix(0.22);
        let series =
            chart.draw_series(std::iter::once(Rectangle::new([(*a, y0), (*b, y1)], shade.filled()))).map_err(e)?;
        if i == 0 {
            series
                .label(label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], shade.filled()));
        }
    }
    if spec.diagonal {
        // y = x, clipped to the plotted area by hand (plotters does not clip lines).
        let (x0, x1) = {
            let r = chart.x_range();
            (r.start, r.end)
        };
        let lo = x0.max(y0);
        let hi = x1.min(y1);
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(e)?
            .label("throughput = offered load")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.4)));
    }
    for (i, s) in spec.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if s.band.len() >= 2 {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18).filled()))).map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(3)))
            .map_err(e)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(3)));
        if s.points.len() <= 40 {
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// On a log axis, label only 1, 2 and 5 times a power of ten, so that the
/// dense ticks near each decade's end do not print on top of each other.
fn log_tick(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let m = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6 * k) {
        short(v)
    } else {
        String::new()
    }
}

/// Compact tick labels: 0.001, 0.5, 12, 3600, 1.2e5.
fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw<DB>(root: DrawingArea<DB, Shift>, spec: &Spec) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, mut y1)) = bounds(spec);
    let (legend, headroom) = legend_place(spec, (x0, x1), (y0, y1));
    if headroom > 0.0 {
        y1 = if spec.y_log { y0 * (y1 / y0).powf(1.0 + headroom) } else { y1 + (y1 - y0) * headroom };
    }
    match (spec.x_log, spec.y_log) {
        (false, false) => draw_on(&root, spec, x0..x1, y0..y1, legend),
        (true, false) => draw_on(&root, spec, (x0..x1).log_scale(), y0..y1, legend),
        (false, true) => draw_on(&root, spec, x0..x1, (y0..y1).log_scale(), legend),
        (true, true) => draw_on(&root, spec, (x0..x1).log_scale(), (y0..y1).log_scale(), legend),
    }
}

/// Renders `spec` to `<dir>/<name>.svg` and `<dir>/<name>.png`, atomically.
fn render(dir: &Path, name: &str, spec: &Spec) -> Result<()> {
    register_font();
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area(), spec)?;
    write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    let tmp = dir.join(format!(".{name}.tmp.png"));
    crate::output::before_write(&tmp)?;
    draw(BitMapBackend::new(&tmp, (W, H)).into_drawing_area(), spec)?;
    std::fs::rename(&tmp, dir.join(format!("{name}.png")))
        .with_context(|| format!("cannot move {name}.png into place"))?;
    Ok(())
}

/// Redraws every chart of a results folder from its CSV files.
pub(crate) fn render_all(dir: &Path) -> Result<Vec<String>> {
    let mut made = Vec::new();
    // The experiment's own name, not the folder's: a merged sweep must draw
    // the same charts as a single-machine run, wherever it was written.
    #[derive(serde::Deserialize)]
    struct NameOnly {
        experiment: String,
    }
    let name = read::<NameOnly>(&dir.join("summary.csv"))?
        .into_iter()
        .next()
        .map(|r| r.experiment)
        .unwrap_or_else(|| "experiment".to_string());
    // The book's scenario has three tables; a config that lists its own
    // followers has as many as it says.
    let own_followers = std::fs::read_to_string(dir.join("config.resolved.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("followers"));
    let rows = if own_followers { "rows" } else { "three rows" };
    let cdf: Vec<CdfRow> = read(&dir.join("cdf.csv"))?;
    let series: Vec<SeriesRow> = read(&dir.join("timeseries.csv"))?;
    let faults: Vec<FaultRow> = read(&dir.join("faults.csv"))?;
    let agg: Vec<AggregateRow> = read(&dir.join("aggregate.csv"))?;
    finite(&dir.join("cdf.csv"), cdf.iter().map(|r| vec![("q", r.q), ("value_s", r.value_s)]))?;
    finite(&dir.join("timeseries.csv"), series.iter().map(|r| vec![("time_s", r.time_s)]))?;
    finite(
        &dir.join("faults.csv"),
        faults.iter().map(|r| vec![("from_s", r.from_s), ("to_s", r.to_s.unwrap_or(0.0))]),
    )?;
    finite(
        &dir.join("aggregate.csv"),
        agg.iter().map(|r| {
            vec![
                ("mean", r.mean),
                ("ci95_low", r.ci95_low),
                ("ci95_high", r.ci95_high),
                ("x_num", r.x_num.unwrap_or(0.0)),
            ]
        }),
    )?;
    let first_point = cdf.first().map(|r| (r.x.clone(), r.y.clone())).unwrap_or_default();
    let at_first = |x: &str, y: &str| (x, y) == (first_point.0.as_str(), first_point.1.as_str());
    let point_note = if first_point.0.is_empty() {
        String::new()
    } else {
        format!(" (at {} {})", agg.first().map(|a| a.sweep_x.as_str()).unwrap_or(""), first_point.0)
    };

    for (metric, title, axis) in [
        (
            "lag",
            "Consistency lag after the user is told 'unsubscribed'",
            "lag (s, log scale; below 1 ms drawn at 1 ms)",
        ),
        ("response", "Response time the user sees", "response time (s, log scale)"),
    ] {
        let mut by: BTreeMap<usize, Series> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for r in cdf.iter().filter(|r| r.metric == metric && at_first(&r.x, &r.y)) {
            let i = order.iter().position(|p| *p == r.pattern).unwrap_or_else(|| {
                order.push(r.pattern.clone());
                order.len() - 1
            });
            by.entry(i)
                .or_insert_with(|| Series { name: r.pattern.clone(), points: vec![], band: vec![] })
                .points
                .push((r.value_s.max(1e-3), r.q));
        }
        if by.is_empty() {
            continue;
        }
        let spec = Spec {
            title: format!("{name}: {title}{point_note}"),
            x_label: axis.into(),
            y_label: "cumulative share of requests".into(),
            x_log: true,
            y_log: false,
            series: by.into_values().collect(),
            shades: vec![],
            diagonal: false,
            y_from_zero: true,
        };
        let file = format!("{metric}_cdf");
        render(dir, &file, &spec)?;
        made.push(file);
    }

    // Inconsistency over time, with the fault windows shaded.
    let mut by: Vec<Series> = Vec::new();
    for r in series.iter().filter(|r| at_first(&r.x, &r.y)) {
        match by.iter_mut().find(|s| s.name == r.pattern) {
            Some(s) => s.points.push((r.time_s / 60.0, f64::from(r.inconsistent))),
            None => by.push(Series {
                name: r.pattern.clone(),
                points: vec![(r.time_s / 60.0, f64::from(r.inconsistent))],
                band: vec![],
            }),
        }
    }
    if !by.is_empty() {
        let end = by.iter().flat_map(|s| s.points.last().map(|p| p.0)).fold(0.0, f64::max);
        // The windows of the run drawn: replication 0 at the first point.
        let shades = faults
            .iter()
            .filter(|f| f.replication == 0 && at_first(&f.x, &f.y))
            .map(|f| {
                // A partition's target is "group | other group": the first group says enough.
                let target = f.target.split(" | ").next().unwrap_or(&f.target);
                (f.from_s / 60.0, f.to_s.map_or(end, |t| t / 60.0), format!("fault: {} {target}", f.kind))
            })
            .collect();
        let spec = Spec {
            title: format!("{name}: customers whose {rows} disagree{point_note}"),
            x_label: "virtual time (minutes)".into(),
            y_label: "inconsistent customers".into(),
            x_log: false,
            y_log: false,
            series: by,
            shades,
            diagonal: false,
            y_from_zero: true,
        };
        render(dir, "inconsistency", &spec)?;
        made.push("inconsistency".into());
    }

    // Sweep charts: each metric against the first swept parameter.
    let swept = agg.iter().any(|a| !a.sweep_x.is_empty()) && agg.iter().all(|a| a.x_num.is_some());
    if swept {
        let label = agg[0].sweep_x.clone();
        let two_d = agg.iter().any(|a| !a.sweep_y.is_empty());
        let values: Vec<f64> = agg.iter().filter_map(|a| a.x_num).collect();
        let positive = values.iter().all(|v| *v > 0.0);
        let spread = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            / values.iter().cloned().fold(f64::INFINITY, f64::min);
        let x_log = positive && spread >= 100.0;
        let unit = if agg.iter().any(|a| a.x.ends_with('s') || a.x.ends_with('m') || a.x.ends_with('h')) {
            " (s)"
        } else {
            ""
        };
        for m in patterns::metrics::charted() {
            let metric = m.name;
            let rows: Vec<&AggregateRow> = agg.iter().filter(|a| a.metric == metric).collect();
            let mut by: Vec<Series> = Vec::new();
            for r in rows {
                let key = if two_d { format!("{} ({} {})", r.pattern, r.sweep_y, r.y) } else { r.pattern.clone() };
                let x = r.x_num.expect("checked");
                let s = match by.iter_mut().find(|s| s.name == key) {
                    Some(s) => s,
                    None => {
                        by.push(Series { name: key, points: vec![], band: vec![] });
                        by.last_mut().expect("just pushed")
                    }
                };
                s.points.push((x, r.mean));
                // Every metric here is non-negative: a t interval reaching
                // below zero is drawn from zero.
                s.band.push((x, r.ci95_low.max(0.0), r.ci95_high));
            }
            let chart = m.chart.expect("charted() yields charted metrics");
            let (title, axis) = (chart.title, chart.axis);
            let throughput =
                metric == "throughput_per_s" && (label.contains("rate_per_s") || label.contains("offered"));
            let means: Vec<f64> = by.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
            let lo = means.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = means.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let y_log = lo > 0.0 && hi / lo >= 100.0;
            if y_log {
                for s in &mut by {
                    for b in &mut s.band {
                        b.1 = b.1.max(lo / 2.0);
                    }
                }
            }
            let spec = Spec {
                title: format!("{name}: {title} (mean, 95% CI)"),
                x_label: format!("{label}{unit}{}", if x_log { ", log scale" } else { "" }),
                y_label: format!("{axis}{}", if y_log { ", log scale" } else { "" }),
                x_log,
                y_log,
                series: by,
                shades: vec![],
                diagonal: throughput,
                y_from_zero: true,
            };
            let file = format!("sweep_{metric}");
            render(dir, &file, &spec)?;
            made.push(file);
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_labels() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(3600.0), "3600");
        assert_eq!(short(1e-4), "1e-4");
        assert_eq!(short(2.0), "2");
    }
}
