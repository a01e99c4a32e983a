//! Charts drawn on the server with plotters, as SVG strings (ssr only: the wasm bundle
//! never links plotters).
//!
//! The page's Content-Security-Policy forbids inline `style` attributes, and the SVG is put
//! into the page as raw markup, so what comes out of here must be safe by construction:
//! - only numbers and this module's own fixed labels are drawn (never text from the read
//!   model: series names and colours are chosen here from a fixed [`Paint`] palette);
//! - the text colour is a sentinel replaced by `currentColor`, so the chart follows the
//!   page's light or dark theme through CSS;
//! - [`sanitize`] removes any `style` attribute and refuses markup that is not plain SVG.

use crate::console::Series;
use chrono::{DateTime, Utc};
use plotters::prelude::*;

/// The fixed palette: readable on the light and the dark theme alike. Each colour has a
/// CSS class of the same name for the HTML legend next to the chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Blue,
    Green,
    Red,
    Amber,
    Grey,
    Violet,
}

impl Paint {
    fn rgb(self) -> RGBColor {
        match self {
            Paint::Blue => RGBColor(0x3b, 0x82, 0xf6),
            Paint::Green => RGBColor(0x22, 0xa5, 0x5a),
            Paint::Red => RGBColor(0xe5, 0x48, 0x4d),
            Paint::Amber => RGBColor(0xd2, 0x99, 0x22),
            Paint::Grey => RGBColor(0x8d, 0x96, 0xa0),
            Paint::Violet => RGBColor(0x8b, 0x5c, 0xf6),
        }
    }

    /// The CSS class of the legend swatch (`.paint-blue` …).
    pub fn class(self) -> &'static str {
        match self {
            Paint::Blue => "paint-blue",
            Paint::Green => "paint-green",
            Paint::Red => "paint-red",
            Paint::Amber => "paint-amber",
            Paint::Grey => "paint-grey",
            Paint::Violet => "paint-violet",
        }
    }
}

/// Drawn as this colour, written out as `currentColor`.
const INK: RGBColor = RGBColor(0x01, 0x02, 0x03);
const INK_HEX: &str = "#010203";

/// How the y axis labels read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YUnit {
    Count,
    Millis,
}

fn y_label(unit: YUnit, v: f64) -> String {
    match unit {
        YUnit::Count if v >= 10_000.0 => format!("{:.0}k", v / 1000.0),
        YUnit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        YUnit::Count => format!("{v:.1}"),
        YUnit::Millis if v >= 60_000.0 => format!("{:.1}m", v / 60_000.0),
        YUnit::Millis if v >= 1000.0 => format!("{:.1}s", v / 1000.0),
        YUnit::Millis => format!("{v:.0}ms"),
    }
}

/// What one chart shows: lines, an optional filled area and vertical marks (events).
pub struct TimeChart<'a> {
    /// Fixed text from this crate (becomes the SVG's accessible name).
    pub title: &'static str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub lines: Vec<(&'a Series, Paint)>,
    pub area: Option<(&'a Series, Paint)>,
    pub marks: Vec<(DateTime<Utc>, Paint)>,
    pub unit: YUnit,
}

pub const WIDTH: u32 = 560;
/// Marks closer than a column of this many across the chart are drawn once.
const MARK_COLUMNS: f64 = 140.0;
pub const HEIGHT: u32 = 200;

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64
}

impl TimeChart<'_> {
    /// The chart as safe SVG markup.
    pub fn render(&self) -> String {
        let mut buf = String::new();
        // Drawing into a String cannot fail for I/O; a plotting error leaves a blank chart.
        let _ = self.draw(&mut buf);
        sanitize(&buf, self.title)
    }

    fn draw(&self, buf: &mut String) -> Result<(), Box<dyn std::error::Error + '_>> {
        let (x0, mut x1) = (secs(self.from), secs(self.to));
        if x1 <= x0 {
            x1 = x0 + 60.0;
        }
        let ymax = self
            .lines
            .iter()
            .map(|(s, _)| *s)
            .chain(self.area.iter().map(|(s, _)| *s))
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let ymax = if ymax <= 0.0 { 1.0 } else { ymax * 1.1 };
        let span = x1 - x0;
        let fmt_x = move |x: &f64| {
            let t = DateTime::<Utc>::from_timestamp(*x as i64, 0).unwrap_or_default();
            if span > 2.0 * 86_400.0 {
                t.format("%d %H:%M").to_string()
            } else {
                t.format("%H:%M").to_string()
            }
        };
        let unit = self.unit;
        let fmt_y = move |y: &f64| y_label(unit, *y);

        let root = SVGBackend::with_string(buf, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(48)
            .build_cartesian_2d(x0..x1, 0.0..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(6)
            .y_labels(4)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .axis_style(INK.mix(0.5))
            .bold_line_style(INK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()?;
        // One mark per column and colour: thousands of transitions stay a small SVG.
        let column = (x1 - x0) / MARK_COLUMNS;
        let mut marks: Vec<(i64, Paint)> = self
            .marks
            .iter()
            .map(|(t, p)| (((secs(*t).clamp(x0, x1) - x0) / column) as i64, *p))
            .collect();
        marks.sort_by_key(|(c, p)| (*c, *p as u8));
        marks.dedup();
        for (c, paint) in &marks {
            let x = x0 + (*c as f64 + 0.5) * column;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, ymax)],
                paint.rgb().mix(0.8).stroke_width(1),
            )))?;
        }
        if let Some((s, paint)) = self.area {
            chart.draw_series(
                AreaSeries::new(
                    s.points.iter().map(|(t, v)| (secs(*t), *v)),
                    0.0,
                    paint.rgb().mix(0.25),
                )
                .border_style(paint.rgb().stroke_width(2)),
            )?;
        }
        for (s, paint) in &self.lines {
            chart.draw_series(LineSeries::new(
                s.points.iter().map(|(t, v)| (secs(*t), *v)),
                paint.rgb().stroke_width(2),
            ))?;
        }
        root.present()?;
        Ok(())
    }
}

/// Makes plotters' SVG fit the page: the ink sentinel becomes `currentColor`, fixed
/// pixel sizes give way to the viewBox (CSS sizes the chart), `style` attributes are
/// removed, the chart gets an accessible name. Anything but plain SVG elements is refused.
pub fn sanitize(svg: &str, title: &str) -> String {
    let mut out = strip_attr(&svg.replace(INK_HEX, "currentColor"), "style");
    if let Some(end) = out.find('>') {
        let head = format!(
            "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" class=\"chart-svg\"",
            crate::ops::escape_html(title)
        );
        out.replace_range(..end, &head);
    }
    const ALLOWED: [&str; 8] = [
        "svg", "g", "line", "polyline", "polygon", "rect", "text", "circle",
    ];
    let safe = out.match_indices('<').all(|(i, _)| {
        let rest = out[i + 1..].trim_start_matches('/');
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        ALLOWED.contains(&name.as_str()) || rest.starts_with('?') || rest.starts_with('!')
    });
    if safe {
        out
    } else {
        String::new()
    }
}

fn strip_attr(s: &str, attr: &str) -> String {
    let needle = format!(" {attr}=\"");
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(&needle) {
        out.push_str(&rest[..i]);
        let after = &rest[i + needle.len()..];
        rest = match after.find('"') {
            Some(j) => &after[j + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn series(n: usize) -> Series {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        Series {
            name: "x".into(),
            points: (0..n)
                .map(|i| (t0 + TimeDelta::minutes(i as i64), (i % 7) as f64))
                .collect(),
        }
    }

    #[test]
    fn charts_are_plain_svg_without_inline_styles() {
        let s = series(60);
        let from = s.points[0].0;
        let chart = TimeChart {
            title: "Throughput \"by\" <outcome>",
            from,
            to: from + TimeDelta::hours(1),
            lines: vec![(&s, Paint::Blue)],
            area: Some((&s, Paint::Red)),
            marks: vec![(from + TimeDelta::minutes(5), Paint::Amber)],
            unit: YUnit::Count,
        }
        .render();
        assert!(chart.starts_with("<svg viewBox="), "{}", &chart[..80]);
        assert!(!chart.contains("style="));
        assert!(!chart.contains("<script"));
        assert!(chart.contains("currentColor"));
        assert!(chart.contains("aria-label=\"Throughput &quot;by&quot; &lt;outcome&gt;\""));
        assert!(chart.contains("polyline") || chart.contains("path"));
    }

    #[test]
    fn empty_data_still_draws_axes() {
        let empty = Series::default();
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let chart = TimeChart {
            title: "Empty",
            from: t,
            to: t,
            lines: vec![(&empty, Paint::Green)],
            area: None,
            marks: vec![],
            unit: YUnit::Millis,
        }
        .render();
        assert!(chart.contains("<text"), "{chart}");
    }

    #[test]
    fn sanitize_refuses_foreign_markup_and_strips_styles() {
        assert_eq!(sanitize("<svg><script>alert(1)</script></svg>", "t"), "");
        assert_eq!(
            sanitize("<svg a=\"1\"><rect style=\"fill:red\" x=\"1\"/></svg>", "t"),
            format!(
                "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"t\" class=\"chart-svg\"><rect x=\"1\"/></svg>"
            )
        );
    }
}
