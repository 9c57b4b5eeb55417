//! Charts, rendered from the CSV files alone (so `ecsim chart DIR` can
//! redraw them), as SVG, and as PNG through resvg, which shapes text
//! properly. The font is embedded (Noto Sans), so charts render the same on
//! a machine without system fonts.
//!
//! Readable in print and by colour-blind readers: the Okabe–Ito palette,
//! and every series has its own dash pattern and marker shape as well as
//! its colour. Durations read in natural units (ms, s, min, h). A log axis
//! draws zero on a marked floor below the smallest positive value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context as _, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::style::text_anchor::{HPos, Pos, VPos};
/// A pixel position (plotters' backend coordinate).
type BackendCoord = (i32, i32);
use plotters::prelude::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::output::write_atomic;

const W: u32 = 1000;
const H: u32 = 620;

/// Okabe & Ito's palette for colour-blind readers, darkest first (the
/// yellow, hard to see on white, is left out).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Dash patterns (dash, gap in pixels; a gap of 0 is a solid line).
const DASHES: [(u32, u32); 3] = [(24, 0), (12, 6), (3, 5)];

/// One line on a chart, with an optional shaded band (a closed polygon).
struct Series {
    name: String,
    /// Its look: (colour, dash and marker), by default both its index. A
    /// two-dimensional sweep gives each pattern a colour and each value of
    /// the second dimension a dash and marker.
    look: Option<(usize, usize)>,
    points: Vec<(f64, f64)>,
    band: Vec<(f64, f64)>,
}

/// One axis of a chart.
#[derive(Clone, Debug, Default)]
struct Axis {
    /// What the axis shows, without its unit.
    label: String,
    /// Logarithmic.
    log: bool,
    /// The values are seconds: ticks read in natural units.
    time: bool,
}

/// Everything one chart shows.
struct Spec {
    title: String,
    x: Axis,
    y: Axis,
    series: Vec<Series>,
    /// Shaded x ranges with a label (fault windows).
    shades: Vec<(f64, f64, String)>,
    /// Draw y = x, with this legend label (throughput against offered
    /// load; prediction against measurement).
    diagonal: Option<String>,
    /// Force y to start at zero (linear axes).
    y_from_zero: bool,
    /// The y axis is a probability: it ends at 1.
    y_to_one: bool,
}

/// How one axis is drawn, worked out from the data.
#[derive(Clone, Debug)]
struct Scale {
    log: bool,
    time: bool,
    /// Linear time axes: seconds per displayed unit, and the unit's name.
    per: f64,
    unit: &'static str,
    /// Log axes with zero or negative values: where they are drawn.
    floor: Option<f64>,
    /// Log axes: the ticks.
    ticks: Vec<f64>,
}

impl Scale {
    /// Maps a value (seconds for time) to the drawn coordinate.
    fn map(&self, v: f64) -> f64 {
        match self.floor {
            Some(f) if v <= f => f,
            _ if self.log => v,
            _ => v / self.per,
        }
    }

    fn tick(&self, v: f64) -> String {
        if self.floor.is_some_and(|f| (v - f).abs() <= f * 1e-9) {
            return "0".into();
        }
        if self.log {
            return if self.time { natural(v) } else { short(v) };
        }
        short(v)
    }
}

/// The unit a linear time axis reads in, chosen from its largest value.
fn time_unit(max_s: f64) -> (f64, &'static str) {
    if max_s < 1.0 {
        (1e-3, "ms")
    } else if max_s < 180.0 {
        (1.0, "s")
    } else if max_s <= 4.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// A duration in seconds in its natural unit: 10 ms, 2 s, 5 min, 1 h.
pub(crate) fn natural(v: f64) -> String {
    let (per, unit) = match v.abs() {
        a if a < 1e-3 => (1e-6, "µs"),
        a if a < 1.0 => (1e-3, "ms"),
        a if a < 60.0 => (1.0, "s"),
        a if a < 3600.0 => (60.0, "min"),
        a if a < 86400.0 => (3600.0, "h"),
        _ => (86400.0, "d"),
    };
    format!("{} {unit}", short(v / per))
}

/// Log-axis ticks between `lo` and `hi`: natural durations for time
/// (1, 2, 5 × 10ⁿ below a minute, then 1, 2, 5, 10, 20, 30 min, 1, 2, 4,
/// 12 h, days), otherwise 1, 2, 5 × 10ⁿ; thinned to decades when dense.
fn log_ticks(lo: f64, hi: f64, time: bool) -> Vec<f64> {
    let mut all = Vec::new();
    let mut dec = 10f64.powi(lo.log10().floor() as i32 - 1);
    while dec <= hi * 10.0 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * dec;
            // 50 s would crowd 1 min, the next tick.
            if !time || v < 50.0 {
                all.push((v, m == 1.0));
            }
        }
        dec *= 10.0;
    }
    if time {
        let longer = [60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0];
        let major = [60.0, 600.0, 3600.0, 86400.0];
        all.extend(longer.iter().map(|&v| (v, major.contains(&v))));
        let mut d = 2.0 * 86400.0;
        while d <= hi * 2.0 {
            all.push((d, false));
            d *= 2.0;
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let every: Vec<f64> = all.iter().filter(|t| inside(t.0)).map(|t| t.0).collect();
    if every.len() <= 10 {
        return every;
    }
    all.iter().filter(|t| t.1 && inside(t.0)).map(|t| t.0).collect()
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The SVG backend measures text with this font to lay out labels.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, ttf_noto_sans::REGULAR);
    });
}

/// The fonts resvg shapes text with: the embedded Noto Sans only, so a PNG
/// does not depend on the machine's fonts.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(ttf_noto_sans::REGULAR.to_vec());
        db.set_sans_serif_family("Noto Sans");
        Arc::new(db)
    })
    .clone()
}

/// Renders an SVG to PNG.
fn png(svg: &str) -> Result<Vec<u8>> {
    let opt = resvg::usvg::Options { fontdb: fonts(), font_family: "Noto Sans".into(), ..Default::default() };
    let tree = resvg::usvg::Tree::from_str(svg, &opt).context("cannot read back the chart's SVG")?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).context("a chart of zero size")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().context("cannot encode the chart as PNG")
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize().collect::<Result<Vec<T>, _>>().with_context(|| format!("bad rows in {}", path.display()))
}

/// The columns of `aggregate.csv` the charts read.
#[derive(Deserialize)]
struct AggRow {
    sweep_x: String,
    x: f64,
    x_unit: String,
    sweep_y: String,
    y_label: String,
    pattern: String,
    metric: String,
    mean: f64,
    ci95_low: f64,
    ci95_high: f64,
}

/// The columns of `cdf.csv` the charts read.
#[derive(Deserialize)]
struct CdfRow {
    x_label: String,
    y_label: String,
    pattern: String,
    metric: String,
    q: f64,
    value_s: f64,
}

/// The columns of `timeseries.csv` the charts read.
#[derive(Deserialize)]
struct SeriesRow {
    x_label: String,
    y_label: String,
    pattern: String,
    time_s: f64,
    inconsistent: f64,
}

/// The columns of `faults.csv` the charts read.
#[derive(Deserialize)]
struct FaultRow {
    x_label: String,
    y_label: String,
    replication: u32,
    kind: String,
    target: String,
    from_s: f64,
    to_s: f64,
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

/// Works out an axis's scale from every value drawn on it.
fn scale(axis: &Axis, values: impl Iterator<Item = f64>) -> Scale {
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let max = values.iter().copied().fold(0.0, f64::max);
    if axis.log {
        let min_pos = values.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        let min_pos = if min_pos.is_finite() { min_pos } else { 1e-3 };
        // Zero has no place on a log axis: it goes on a floor a decade
        // below the smallest positive value, marked and labelled 0.
        let floor = values.iter().any(|v| *v <= 0.0).then(|| 10f64.powf((min_pos.log10() - 1e-9).floor())).map(|f| {
            if f >= min_pos {
                f / 10.0
            } else {
                f
            }
        });
        return Scale { log: true, time: axis.time, per: 1.0, unit: "", floor, ticks: Vec::new() };
    }
    let (per, unit) = if axis.time { time_unit(max) } else { (1.0, "") };
    Scale { log: false, time: axis.time, per, unit, floor: None, ticks: Vec::new() }
}

impl Scale {
    /// A log axis's ticks over its drawn range `lo..hi`: the floor, if any,
    /// then natural values clear of it.
    fn set_ticks(&mut self, lo: f64, hi: f64) {
        if !self.log {
            return;
        }
        self.ticks = log_ticks(lo, hi, self.time);
        if let Some(f) = self.floor {
            self.ticks.retain(|t| *t > f * 1.5);
            self.ticks.insert(0, f);
        }
    }
}

/// The axis label with its unit and scale.
fn axis_label(axis: &Axis, sc: &Scale) -> String {
    // A time axis names its unit (log ticks carry theirs); other labels
    // name theirs in words.
    let unit = if sc.time && !sc.log { sc.unit.to_string() } else { String::new() };
    let mut notes: Vec<String> = Vec::new();
    if !unit.is_empty() {
        notes.push(unit);
    }
    if sc.log {
        notes.push("log scale".into());
    }
    if sc.floor.is_some() {
        notes.push("0 drawn on the dashed floor".into());
    }
    match (notes.is_empty(), axis.label.strip_suffix(')')) {
        (true, _) => axis.label.clone(),
        // "offered load (requests/s)": the notes join its parentheses.
        (false, Some(open)) if open.contains('(') => format!("{open}, {})", notes.join(", ")),
        (false, _) => format!("{} ({})", axis.label, notes.join(", ")),
    }
}

/// The chart with every value mapped to drawn coordinates.
fn mapped(spec: &Spec, sx: &Scale, sy: &Scale) -> Spec {
    let p = |&(x, y): &(f64, f64)| (sx.map(x), sy.map(y));
    Spec {
        title: spec.title.clone(),
        x: spec.x.clone(),
        y: spec.y.clone(),
        series: spec
            .series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                look: s.look,
                points: s.points.iter().map(p).collect(),
                band: s.band.iter().map(p).collect(),
            })
            .collect(),
        shades: spec.shades.iter().map(|(a, b, l)| (sx.map(*a), sx.map(*b), l.clone())).collect(),
        diagonal: spec.diagonal.clone(),
        y_from_zero: spec.y_from_zero,
        y_to_one: spec.y_to_one,
    }
}

fn bounds(spec: &Spec) -> ((f64, f64), (f64, f64)) {
    let xs = spec.series.iter().flat_map(|s| s.points.iter().chain(&s.band).map(|p| p.0));
    let ys = spec.series.iter().flat_map(|s| s.points.iter().chain(&s.band).map(|p| p.1));
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
    if spec.y_from_zero && !spec.y.log {
        y0 = y0.min(0.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    if spec.x.log {
        x0 /= 1.25;
        x1 *= 1.25;
    } else {
        x1 += (x1 - x0) * 0.02;
    }
    if spec.y_to_one {
        (y0, y1) = (0.0, 1.0);
    } else if spec.y.log {
        y0 /= 1.25;
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
                pts.push((lerp(w[0].0, w[1].0, spec.x.log), lerp(w[0].1, w[1].1, spec.y.log)));
            }
        }
        pts.extend(s.points.iter().copied());
        pts.extend(s.band.iter().copied());
    }
    pts
}

/// Legend text size, pixels, and the width allowed per character: generous,
/// because the box must hold the text as resvg shapes it.
const LEGEND_FONT: f64 = 16.0;
const LEGEND_CHAR: f64 = 8.4;
const LEGEND_ROW: f64 = 22.0;

/// The legend's labels: the shade, the diagonal, then the series.
fn legend_labels(spec: &Spec) -> Vec<String> {
    spec.shades
        .first()
        .map(|s| s.2.clone())
        .into_iter()
        .chain(spec.diagonal.clone())
        .chain(spec.series.iter().map(|s| s.name.clone()))
        .collect()
}

/// The legend box's size in pixels.
fn legend_size(spec: &Spec) -> (f64, f64) {
    let labels = legend_labels(spec);
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as f64;
    (chars * LEGEND_CHAR + 62.0, labels.len() as f64 * LEGEND_ROW + 14.0)
}

/// The plotting area's approximate size in pixels (the chart less its
/// caption, axis areas and margins), for placing the legend beforehand.
const PLOT_W: f64 = (W - 140) as f64;
const PLOT_H: f64 = (H - 150) as f64;

/// Picks a place for the legend that covers no data: the top-left corner of
/// its box as shares of the plotting area (from the left and from the top).
/// If every place covers data, keeps the upper left and returns the
/// headroom (a share of the y range) that lifts the data clear of it; none
/// on an axis that must end at 1.
fn legend_place(spec: &Spec, x: (f64, f64), y: (f64, f64)) -> ((f64, f64), f64) {
    let (w, h) = legend_size(spec);
    let (wf, hf) = ((w + 20.0) / PLOT_W, (h + 20.0) / PLOT_H);
    let norm = |v: f64, (a, b): (f64, f64), log: bool| {
        if log {
            (v.max(a).ln() - a.ln()) / (b.ln() - a.ln())
        } else {
            (v - a) / (b - a)
        }
    };
    // Normalised with y from the top, like the candidate boxes.
    let pts: Vec<(f64, f64)> = drawn_points(spec)
        .into_iter()
        .map(|(px, py)| (norm(px, x, spec.x.log), 1.0 - norm(py, y, spec.y.log)))
        .collect();
    let free = |x0: f64, y0: f64| !pts.iter().any(|&(px, py)| px >= x0 && px <= x0 + wf && py >= y0 && py <= y0 + hf);
    let (right, bottom, mid_x, mid_y) = (1.0 - wf, 1.0 - hf, 0.5 - wf / 2.0, 0.5 - hf / 2.0);
    let places = [
        (0.0, 0.0),
        (right, 0.0),
        (right, bottom),
        (0.0, bottom),
        (right, mid_y),
        (mid_x, 0.0),
        (mid_x, mid_y),
        (mid_x, bottom),
        (0.0, mid_y),
    ];
    for (fx, fy) in places {
        if free(fx, fy) {
            return ((fx, fy), 0.0);
        }
    }
    if spec.y_to_one {
        return ((right, bottom), 0.0);
    }
    ((0.0, 0.0), hf / (1.0 - hf).max(0.2))
}

/// Draws series `i`'s legend sample, its dash and marker, from pixel `(x, y)`.
fn draw_sample<DB>(
    root: &DrawingArea<DB, Shift>,
    (c, i): (usize, usize),
    (x, y): BackendCoord,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
{
    let color = PALETTE[c % PALETTE.len()];
    let (dash, gap) = DASHES[i % DASHES.len()];
    let filled = color.filled();
    root.draw(&DashedPathElement::new(vec![(x, y), (x + 30, y)], dash, gap, color.stroke_width(3)))?;
    let r = marker_size(c);
    let c = (x + 15, y);
    match i % 4 {
        0 => root.draw(&Circle::new(c, r, filled)),
        1 => root.draw(&TriangleMarker::new(c, r + 2, filled)),
        2 => root.draw(&Rectangle::new([(c.0 - r - 2, y - r - 2), (c.0 + r + 2, y + r + 2)], color.stroke_width(2))),
        _ => root.draw(&Cross::new(c, r + 1, color.stroke_width(3))),
    }
}

/// Marker size by colour: the first series' markers are the largest, so a
/// later series' marker at the same point leaves a ring of the earlier one
/// visible.
fn marker_size(colour: usize) -> i32 {
    [9, 7, 5][colour.min(2)]
}

/// Draws the legend at `at` (shares of the plotting area `area`, in pixels).
fn draw_legend<DB>(
    root: &DrawingArea<DB, Shift>,
    spec: &Spec,
    area: (std::ops::Range<i32>, std::ops::Range<i32>),
    at: (f64, f64),
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the legend of {}: {e:?}", spec.title);
    let (w, h) = legend_size(spec);
    let (aw, ah) = (f64::from(area.0.end - area.0.start), f64::from(area.1.end - area.1.start));
    let x = (f64::from(area.0.start) + 10.0 + at.0 * aw).min(f64::from(area.0.end) - 10.0 - w) as i32;
    let y = (f64::from(area.1.start) + 10.0 + at.1 * ah).min(f64::from(area.1.end) - 10.0 - h) as i32;
    let (w, h) = (w as i32, h as i32);
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], WHITE.mix(0.92).filled())).map_err(e)?;
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], RGBColor(180, 180, 180))).map_err(e)?;
    let font = ("sans-serif", LEGEND_FONT).into_font().color(&BLACK);
    let text = |label: &str, row: usize| {
        let cy = y + 7 + (LEGEND_ROW * (row as f64 + 0.5)) as i32;
        let style = font.clone().pos(Pos::new(HPos::Left, VPos::Center));
        (cy, Text::new(label.to_string(), (x + 52, cy), style))
    };
    let mut row = 0;
    if let Some((.., label)) = spec.shades.first() {
        let (cy, t) = text(label, row);
        let shade = RGBColor(120, 120, 120).mix(0.18).filled();
        root.draw(&Rectangle::new([(x + 12, cy - 7), (x + 42, cy + 7)], shade)).map_err(e)?;
        root.draw(&t).map_err(e)?;
        row += 1;
    }
    if let Some(label) = &spec.diagonal {
        let (cy, t) = text(label, row);
        root.draw(&PathElement::new([(x + 12, cy), (x + 42, cy)], BLACK.mix(0.4).stroke_width(1))).map_err(e)?;
        root.draw(&t).map_err(e)?;
        row += 1;
    }
    for (i, s) in spec.series.iter().enumerate() {
        let (cy, t) = text(&s.name, row);
        draw_sample(root, s.look.unwrap_or((i, i)), (x + 12, cy)).map_err(e)?;
        root.draw(&t).map_err(e)?;
        row += 1;
    }
    Ok(())
}

/// Draws series `i`: its band, its line in its dash pattern, its markers
/// along the line (spaced in pixels, offset per series so that markers of
/// overlapping series do not hide each other).
fn draw_series<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, s: &Series, i: usize) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", s.name);
    let (c, i) = s.look.unwrap_or((i, i));
    let color = PALETTE[c % PALETTE.len()];
    let (dash, gap) = DASHES[i % DASHES.len()];
    if s.band.len() >= 3 {
        chart.draw_series(std::iter::once(Polygon::new(s.band.clone(), color.mix(0.15).filled()))).map_err(e)?;
    }
    let line = color.stroke_width(3);
    let pts = s.points.clone();
    if gap == 0 {
        chart.draw_series(LineSeries::new(pts.clone(), line)).map_err(e)?;
    } else {
        chart.draw_series(DashedLineSeries::new(pts.clone(), dash, gap, line)).map_err(e)?;
    }
    let filled = color.filled();
    // One marker per point on a short line; on a long one (a CDF, a time
    // series) ten, evenly spaced along the data and offset per series, so
    // that markers neither clutter a dense line nor coincide across series.
    let pts: Vec<(f64, f64)> = if pts.len() <= 12 {
        pts
    } else {
        let n = pts.len();
        (0..10).map(|k| pts[((2 * k + 1) * n / 20 + i * n / 60).min(n - 1)]).collect()
    };
    // Squares are hollow, so a filled marker of another series at the same
    // point shows through.
    let hollow = color.stroke_width(2);
    let r = marker_size(c);
    let h = r + 2;
    match i % 4 {
        0 => chart.draw_series(pts.iter().map(|&p| Circle::new(p, r, filled))).map(drop),
        1 => chart.draw_series(pts.iter().map(|&p| TriangleMarker::new(p, r + 2, filled))).map(drop),
        2 => chart
            .draw_series(pts.iter().map(|&p| EmptyElement::at(p) + Rectangle::new([(-h, -h), (h, h)], hollow)))
            .map(drop),
        _ => chart.draw_series(pts.iter().map(|&p| Cross::new(p, r + 1, line))).map(drop),
    }
    .map_err(e)?;
    Ok(())
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    spec: &Spec,
    (sx, sy): (&Scale, &Scale),
    xr: X,
    yr: Y,
    legend: (f64, f64),
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
        // A long title (a two-dimensional point) shrinks to fit the width.
        .caption(&spec.title, ("sans-serif", (24.0 * 95.0 / spec.title.chars().count().max(95) as f64).max(14.0)))
        .margin(18)
        .x_label_area_size(55)
        .y_label_area_size(85)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(axis_label(&spec.x, sx))
        .y_desc(axis_label(&spec.y, sy))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(212, 212, 212))
        .x_label_formatter(&|v| sx.tick(*v))
        .y_label_formatter(&|v| sy.tick(*v))
        .draw()
        .map_err(e)?;
    let (x0, x1) = {
        let r = chart.x_range();
        (r.start, r.end)
    };
    let (y0, y1) = {
        let r = chart.y_range();
        (r.start, r.end)
    };
    for (a, b, _) in &spec.shades {
        let shade = RGBColor(120, 120, 120).mix(0.18);
        chart.draw_series(std::iter::once(Rectangle::new([(*a, y0), (*b, y1)], shade.filled()))).map_err(e)?;
    }
    // The floor that stands for zero on a log axis, dashed.
    let floor = BLACK.mix(0.55).stroke_width(1);
    if let Some(f) = sx.floor {
        chart.draw_series(DashedLineSeries::new([(f, y0), (f, y1)], 6, 4, floor)).map_err(e)?;
    }
    if let Some(f) = sy.floor {
        chart.draw_series(DashedLineSeries::new([(x0, f), (x1, f)], 6, 4, floor)).map_err(e)?;
    }
    if spec.diagonal.is_some() {
        // y = x, clipped to the plotted area by hand (plotters does not clip lines).
        // Sampled along the line, which is a curve on a log x axis.
        let lo = x0.max(y0);
        let hi = x1.min(y1);
        let steps = 200;
        let line = (0..=steps).map(|k| {
            let f = f64::from(k) / f64::from(steps);
            let v = if sx.log { lo * (hi / lo).powf(f) } else { lo + (hi - lo) * f };
            (v, v)
        });
        chart.draw_series(LineSeries::new(line, BLACK.mix(0.4).stroke_width(1))).map_err(e)?;
    }
    for (i, s) in spec.series.iter().enumerate() {
        draw_series(&mut chart, s, i)?;
    }
    draw_legend(root, spec, chart.plotting_area().get_pixel_range(), legend)?;
    root.present().map_err(e)?;
    Ok(())
}

/// Compact tick labels with up to three significant digits, so that close
/// ticks never print alike: 0.0015, 0.5, 12.5, 3600, 1.25e6.
fn short(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a == 0.0 {
        "0".into()
    } else if !(1e-4..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{e}", trim(m.to_string()))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        trim(format!("{v:.decimals$}"))
    }
}

/// Draws `spec` as SVG.
fn svg(spec: &Spec) -> Result<String> {
    let all = |f: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        spec.series.iter().flat_map(|s| s.points.iter().chain(&s.band).map(f)).collect()
    };
    let mut sx = scale(&spec.x, all(|p| p.0).into_iter().chain(spec.shades.iter().flat_map(|s| [s.0, s.1])));
    let mut sy = scale(&spec.y, all(|p| p.1).into_iter());
    let m = mapped(spec, &sx, &sy);
    let ((x0, x1), (y0, mut y1)) = bounds(&m);
    let (legend, headroom) = legend_place(&m, (x0, x1), (y0, y1));
    if headroom > 0.0 {
        y1 = if m.y.log { y0 * (y1 / y0).powf(1.0 + headroom) } else { y1 + (y1 - y0) * headroom };
    }
    sx.set_ticks(x0, x1);
    sy.set_ticks(y0, y1);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        let sc = (&sx, &sy);
        match (sx.log, sy.log) {
            (false, false) => draw_on(&root, &m, sc, x0..x1, y0..y1, legend),
            (true, false) => {
                draw_on(&root, &m, sc, (x0..x1).log_scale().with_key_points(sx.ticks.clone()), y0..y1, legend)
            }
            (false, true) => {
                draw_on(&root, &m, sc, x0..x1, (y0..y1).log_scale().with_key_points(sy.ticks.clone()), legend)
            }
            (true, true) => draw_on(
                &root,
                &m,
                sc,
                (x0..x1).log_scale().with_key_points(sx.ticks.clone()),
                (y0..y1).log_scale().with_key_points(sy.ticks.clone()),
                legend,
            ),
        }?;
    }
    Ok(out)
}

/// Renders `spec` to `<dir>/<name>.svg` and `<dir>/<name>.png`, atomically.
fn render(dir: &Path, name: &str, spec: &Spec) -> Result<()> {
    register_font();
    let svg = svg(spec)?;
    write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    write_atomic(&dir.join(format!("{name}.png")), &png(&svg)?)
}

/// Prediction against measurement on log-log axes, one line per series
/// through its (measured, predicted) points, with y = x for reference.
pub(crate) fn measured_vs_predicted(
    dir: &Path,
    name: &str,
    title: &str,
    series: Vec<(String, Vec<(f64, f64)>)>,
) -> Result<()> {
    let spec = Spec {
        title: title.into(),
        x: Axis { label: "Measured on the testbed".into(), log: true, time: true },
        y: Axis { label: "Predicted by ecsim".into(), log: true, time: true },
        series: series.into_iter().map(|(name, points)| Series { name, look: None, points, band: vec![] }).collect(),
        shades: vec![],
        diagonal: Some("prediction = measurement".into()),
        y_from_zero: false,
        y_to_one: false,
    };
    render(dir, name, &spec)
}

/// A mean line over replications with a min–max band, from rows keyed by
/// (series, position along the line): `value` is averaged at each key.
struct Spread {
    /// (series, key) → (position, values).
    at: BTreeMap<(usize, u64), (f64, Vec<f64>)>,
    names: Vec<String>,
}

impl Spread {
    fn new() -> Self {
        Spread { at: BTreeMap::new(), names: Vec::new() }
    }

    fn add(&mut self, name: &str, key: u64, pos: f64, value: f64) {
        let i = self.names.iter().position(|n| n == name).unwrap_or_else(|| {
            self.names.push(name.to_string());
            self.names.len() - 1
        });
        self.at.entry((i, key)).or_insert_with(|| (pos, Vec::new())).1.push(value);
    }

    /// The series; `flip` puts the value on x (a CDF: position is q on y).
    fn series(self, flip: bool) -> (Vec<Series>, usize) {
        let mut out: Vec<Series> =
            self.names.iter().map(|n| Series { name: n.clone(), look: None, points: vec![], band: vec![] }).collect();
        let mut lows: Vec<Vec<(f64, f64)>> = vec![Vec::new(); out.len()];
        let mut reps = 0;
        for ((i, _), (pos, vs)) in self.at {
            reps = reps.max(vs.len());
            let mean = vs.iter().sum::<f64>() / vs.len() as f64;
            let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let p = |v: f64| if flip { (v, pos) } else { (pos, v) };
            out[i].points.push(p(mean));
            out[i].band.push(p(hi));
            lows[i].push(p(lo));
        }
        for (s, lo) in out.iter_mut().zip(lows) {
            if reps < 2 {
                s.band.clear();
            } else {
                s.band.extend(lo.into_iter().rev());
            }
        }
        (out, reps)
    }
}

/// The band's caption, or nothing with one replication.
fn band_note(reps: usize) -> String {
    if reps < 2 {
        String::new()
    } else {
        format!(", mean of {reps} runs, band min–max")
    }
}

/// Redraws every chart of a results folder from its CSV files.
pub(crate) fn render_all(dir: &Path) -> Result<Vec<String>> {
    let mut made = Vec::new();
    // The experiment's own name, not the folder's: a merged sweep must draw
    // the same charts as a single-machine run, wherever it was written.
    #[derive(Deserialize)]
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
    let agg: Vec<AggRow> = read(&dir.join("aggregate.csv"))?;
    finite(&dir.join("cdf.csv"), cdf.iter().map(|r| vec![("q", r.q), ("value_s", r.value_s)]))?;
    finite(
        &dir.join("timeseries.csv"),
        series.iter().map(|r| vec![("time_s", r.time_s), ("inconsistent", r.inconsistent)]),
    )?;
    finite(&dir.join("faults.csv"), faults.iter().map(|r| vec![("from_s", r.from_s)]))?;
    finite(
        &dir.join("aggregate.csv"),
        agg.iter().map(|r| vec![("mean", r.mean), ("ci95_low", r.ci95_low), ("ci95_high", r.ci95_high)]),
    )?;
    let first_point = cdf.first().map(|r| (r.x_label.clone(), r.y_label.clone())).unwrap_or_default();
    let at_first = |x: &str, y: &str| (x, y) == (first_point.0.as_str(), first_point.1.as_str());
    let point_note = match (first_point.0.is_empty(), first_point.1.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!(" (at {})", first_point.0),
        (false, false) => format!(" (at {}, {})", first_point.0, first_point.1),
    };

    for (metric, title, axis) in [
        ("lag", "Consistency lag after the user is told 'unsubscribed'", "lag"),
        ("response", "Response time the user sees", "response time"),
    ] {
        let mut spread = Spread::new();
        for r in cdf.iter().filter(|r| r.metric == metric && at_first(&r.x_label, &r.y_label)) {
            spread.add(&r.pattern, (r.q * 1e6).round() as u64, r.q, r.value_s);
        }
        let (by, reps) = spread.series(true);
        if by.is_empty() {
            continue;
        }
        let spec = Spec {
            title: format!("{name}: {title}{point_note}"),
            x: Axis { label: axis.into(), log: true, time: true },
            y: Axis { label: format!("share of requests{}", band_note(reps)), ..Default::default() },
            series: by,
            shades: vec![],
            diagonal: None,
            y_from_zero: true,
            y_to_one: true,
        };
        let file = format!("{metric}_cdf");
        render(dir, &file, &spec)?;
        made.push(file);
    }

    // Inconsistency over time, with the fault windows shaded.
    let mut spread = Spread::new();
    for r in series.iter().filter(|r| at_first(&r.x_label, &r.y_label)) {
        spread.add(&r.pattern, (r.time_s * 1e3).round() as u64, r.time_s, r.inconsistent);
    }
    let (by, reps) = spread.series(false);
    if !by.is_empty() {
        let end = by.iter().flat_map(|s| s.points.last().map(|p| p.0)).fold(0.0, f64::max);
        // The windows of replication 0 at the first point; the legend names
        // every distinct fault.
        let windows: Vec<&FaultRow> =
            faults.iter().filter(|f| f.replication == 0 && at_first(&f.x_label, &f.y_label)).collect();
        let mut kinds: Vec<String> = Vec::new();
        for f in &windows {
            // A partition's target is "group | other group": the first group says enough.
            let k = format!("{} {}", f.kind, f.target.split(" | ").next().unwrap_or(&f.target));
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let label = match kinds.len() {
            0 => String::new(),
            1..=3 => format!("fault: {}", kinds.join(", ")),
            n => format!("faults: {}, and {} more", kinds[..2].join(", "), n - 2),
        };
        // Name the replication only when the windows differ between them.
        let same = |r: u32| {
            let of = |r: u32| -> Vec<(u64, u64)> {
                faults
                    .iter()
                    .filter(|f| f.replication == r && at_first(&f.x_label, &f.y_label))
                    .map(|f| (f.from_s.to_bits(), f.to_s.to_bits()))
                    .collect()
            };
            of(r) == of(0)
        };
        let label =
            if kinds.is_empty() || (0..reps as u32).all(same) { label } else { format!("{label} (replication 0)") };
        let shades = windows.iter().map(|f| (f.from_s, f.to_s.min(end), label.clone())).collect();
        let spec = Spec {
            title: format!("{name}: customers whose {rows} disagree{point_note}"),
            x: Axis { label: "virtual time".into(), log: false, time: true },
            y: Axis {
                label: format!("inconsistent customers, peak per step{}", band_note(reps)),
                ..Default::default()
            },
            series: by,
            shades,
            diagonal: None,
            y_from_zero: true,
            y_to_one: false,
        };
        render(dir, "inconsistency", &spec)?;
        made.push("inconsistency".into());
    }

    // Sweep charts: each metric against the first swept parameter.
    let swept = agg.iter().any(|a| !a.sweep_x.is_empty()) && agg.iter().all(|a| a.x.is_finite());
    if swept {
        let label = agg[0].sweep_x.clone();
        let x_unit = agg[0].x_unit.clone();
        let two_d = agg.iter().any(|a| !a.sweep_y.is_empty());
        let values: Vec<f64> = agg.iter().map(|a| a.x).collect();
        let positive = values.iter().all(|v| *v > 0.0);
        let spread = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            / values.iter().cloned().fold(f64::INFINITY, f64::min);
        let x_log = positive && spread >= 10.0;
        let mut pattern_order: Vec<&str> = Vec::new();
        let mut y_order: Vec<&str> = Vec::new();
        for a in &agg {
            for (order, v) in [(&mut pattern_order, a.pattern.as_str()), (&mut y_order, a.y_label.as_str())] {
                if !order.contains(&v) {
                    order.push(v);
                }
            }
        }
        let index = |order: &[&str], v: &str| order.iter().position(|o| *o == v).unwrap_or(0);
        for m in patterns::metrics::charted() {
            let metric = m.name;
            let mut by: Vec<Series> = Vec::new();
            let mut lows: Vec<Vec<(f64, f64)>> = Vec::new();
            for r in agg.iter().filter(|a| a.metric == metric) {
                let key = if two_d { format!("{} ({})", r.pattern, r.y_label) } else { r.pattern.clone() };
                let k = match by.iter().position(|s| s.name == key) {
                    Some(k) => k,
                    None => {
                        let look = two_d.then(|| (index(&pattern_order, &r.pattern), index(&y_order, &r.y_label)));
                        by.push(Series { name: key, look, points: vec![], band: vec![] });
                        lows.push(Vec::new());
                        by.len() - 1
                    }
                };
                by[k].points.push((r.x, r.mean));
                // Every metric here is non-negative: a t interval reaching
                // below zero is drawn from zero.
                by[k].band.push((r.x, r.ci95_high));
                lows[k].push((r.x, r.ci95_low.max(0.0)));
            }
            // Close each band with its lower edge, right to left.
            for (s, low) in by.iter_mut().zip(lows) {
                s.band.extend(low.into_iter().rev());
            }
            let chart = m.chart.expect("charted() yields charted metrics");
            let throughput =
                metric == "throughput_per_s" && (label.contains("rate_per_s") || label.contains("offered"));
            let means: Vec<f64> = by.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
            let lo = means.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
            let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // A metric spanning two decades or more reads on a log axis,
            // zeros on its floor; throughput is compared with the diagonal.
            let y_log = !throughput && lo.is_finite() && hi / lo >= 100.0;
            if y_log {
                // A band's lower edge at zero would sit on the floor; the
                // band is the interval of a positive mean, so cut it at the mean's decade.
                for s in &mut by {
                    for b in &mut s.band {
                        if b.1 <= 0.0 {
                            b.1 = lo / 2.0;
                        }
                    }
                }
            }
            let time = m.unit == patterns::metrics::Unit::Seconds;
            let spec = Spec {
                title: format!("{name}: {} (mean, 95% CI)", chart.title),
                x: Axis { label: label.clone(), log: x_log, time: x_unit == "s" },
                y: Axis { label: strip_unit(chart.axis), log: y_log, time },
                series: by,
                shades: vec![],
                diagonal: throughput.then(|| "throughput = offered load".to_string()),
                y_from_zero: true,
                y_to_one: false,
            };
            let file = format!("sweep_{metric}");
            render(dir, &file, &spec)?;
            made.push(file);
        }
    }
    Ok(made)
}

/// An axis label from the metric registry without its "(s)": the chart
/// adds the unit it draws in.
fn strip_unit(axis: &str) -> String {
    axis.strip_suffix(" (s)").unwrap_or(axis).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_labels() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(3600.0), "3600");
        assert_eq!(short(1e-4), "0.0001");
        assert_eq!(short(2.0), "2");
        assert_eq!((short(0.0015), short(0.0025), short(12.5)), ("0.0015".into(), "0.0025".into(), "12.5".into()));
        assert_eq!((short(1.2e6), short(1.25e6), short(2e6)), ("1.2e6".into(), "1.25e6".into(), "2e6".into()));
    }

    #[test]
    fn durations_read_in_natural_units() {
        assert_eq!(natural(0.01), "10 ms");
        assert_eq!(natural(2.0), "2 s");
        assert_eq!(natural(300.0), "5 min");
        assert_eq!(natural(3600.0), "1 h");
        assert_eq!(time_unit(0.5), (1e-3, "ms"));
        assert_eq!(time_unit(3600.0), (60.0, "min"));
    }

    #[test]
    fn a_log_axis_puts_zero_on_a_floor_below_every_positive_value() {
        let axis = Axis { log: true, time: true, ..Default::default() };
        let mut sc = scale(&axis, [0.0, 0.005, 0.02, 3600.0].into_iter());
        let f = sc.floor.expect("a zero needs a floor");
        sc.set_ticks(f, 3600.0);
        assert!((0.0005..0.005).contains(&f), "{f}");
        assert_eq!(sc.map(0.0), f);
        assert_eq!(sc.tick(f), "0");
        assert_eq!(sc.ticks[0], f);
        assert!(sc.ticks.iter().all(|t| *t <= 3600.0 * 1.0001));
        // Without zeros there is no floor.
        assert!(scale(&axis, [0.01, 1.0].into_iter()).floor.is_none());
    }
}
