//! The soak's series over time as one SVG (plotters, as the console's own charts): seven
//! small panels sharing the time axis — memory, database and largest tables, WAL, ingest
//! lag, events stored per minute, latencies, connections — with the end of the first retention cycle marked, so "flat
//! after the first cycle" can be seen as well as read from the verdict.

use super::report::{event_rate, percentile};
use super::sample::{mib, Sample, Setup};
use plotters::prelude::*;

/// One panel: a title and named series of (minutes, value).
struct Panel {
    title: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

fn panels(setup: &Setup, samples: &[Sample]) -> Vec<Panel> {
    let min = |s: &Sample| s.secs / 60.0;
    let series = |name: &str, f: &dyn Fn(&Sample) -> Option<f64>| {
        (
            name.to_string(),
            samples
                .iter()
                .filter_map(|s| Some((min(s), f(s)?)))
                .collect::<Vec<_>>(),
        )
    };
    let mut memory = Vec::new();
    let mut conns = vec![series("pg connections", &|s| Some(s.pg_connections as f64))];
    for (i, p) in setup.processes.iter().enumerate() {
        let label = if p.judged {
            p.name.clone()
        } else {
            format!("{} (not judged)", p.name)
        };
        memory.push(series(&label, &|s| s.rss_mib.get(i).copied().flatten()));
        conns.push(series(&format!("{} fds", p.name), &|s| {
            s.fds.get(i).copied().flatten().map(|f| f as f64)
        }));
    }
    let mut sizes = vec![series("database", &|s| Some(s.db_mib()))];
    for (i, d) in setup.other_databases.iter().enumerate() {
        sizes.push(series(&format!("{d} (not judged)"), &|s| {
            s.other_db_bytes.get(i).map(|b| mib(*b))
        }));
    }
    // The largest tables at the end, followed through the run.
    if let Some(last) = samples.last() {
        for t in last.tables.iter().take(4) {
            let name = t.name.clone();
            sizes.push(series(&name.clone(), &move |s| {
                let t = s.tables.iter().find(|t| t.name == name)?;
                Some(mib(t.table_bytes + t.index_bytes))
            }));
        }
    }
    vec![
        Panel {
            title: "resident memory, MiB".into(),
            series: memory,
        },
        Panel {
            title: "database and largest tables (with indexes), MiB".into(),
            series: sizes,
        },
        Panel {
            title: "WAL written per sample, MiB".into(),
            series: vec![series("WAL", &|s| Some(mib(s.wal_bytes)))],
        },
        Panel {
            title: "ingest lag, records".into(),
            series: vec![series("lag", &|s| s.lag.map(|l| l as f64))],
        },
        Panel {
            title: "events stored per minute".into(),
            series: vec![(
                "events".into(),
                samples
                    .windows(2)
                    .filter_map(|w| Some((min(&w[1]), event_rate(&w[0], &w[1])?)))
                    .collect(),
            )],
        },
        Panel {
            title: "latency, ms".into(),
            series: vec![
                series("push p99", &|s| percentile(&s.push_ms, 99.0)),
                series("page p95", &|s| percentile(&s.page_ms, 95.0)),
            ],
        },
        Panel {
            title: "connections and open files".into(),
            series: conns,
        },
    ]
}

/// The SVG document.
pub fn svg(setup: &Setup, samples: &[Sample], warmup_secs: f64) -> anyhow::Result<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1200, 1320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let x_max = samples
            .last()
            .map_or(1.0, |s| s.secs / 60.0)
            .max(warmup_secs / 60.0)
            .max(0.1);
        let warmup = warmup_secs / 60.0;
        for (area, panel) in root.split_evenly((4, 2)).iter().zip(panels(setup, samples)) {
            draw(area, &panel, x_max, warmup).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(buf)
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    x_max: f64,
    warmup: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y_max = panel
        .series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0)
        // Headroom for the legend, drawn in the upper left.
        * 1.5;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .x_labels(8)
        .y_labels(6)
        .draw()?;
    // The end of the first retention cycle: what comes after it is judged.
    chart
        .draw_series(LineSeries::new(
            [(warmup, 0.0), (warmup, y_max)],
            ShapeStyle::from(&BLACK.mix(0.45)).stroke_width(3),
        ))?
        .label("first retention cycle ends")
        .legend(|(x, y)| {
            PathElement::new(
                [(x + 7, y - 6), (x + 7, y + 6)],
                ShapeStyle::from(&BLACK.mix(0.45)).stroke_width(3),
            )
        });
    for (i, (name, points)) in panel.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.6))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sample::{TableSize, Watched};
    use super::*;

    #[test]
    fn draws_every_panel_and_series() {
        let setup = Setup {
            processes: vec![Watched {
                name: "console".into(),
                pid: 1,
                judged: true,
            }],
            other_databases: vec!["soak_fleet".into()],
        };
        let samples: Vec<Sample> = (1..=5)
            .map(|i| Sample {
                secs: i as f64 * 15.0,
                rss_mib: vec![Some(50.0 + i as f64)],
                fds: vec![Some(30)],
                db_bytes: 20 << 20,
                other_db_bytes: vec![5 << 20],
                wal_bytes: 1 << 20,
                tables: vec![TableSize {
                    name: "public.events".into(),
                    table_bytes: 3 << 20,
                    index_bytes: 1 << 20,
                }],
                lag: Some(3),
                events_stored: Some(i * 400),
                push_ms: vec![12.0, 15.0],
                page_ms: vec![4.0],
                pg_connections: 9,
                ..Default::default()
            })
            .collect();
        let svg = svg(&setup, &samples, 30.0).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        for text in [
            "resident memory, MiB",
            "ingest lag, records",
            "events stored per minute",
            "push p99",
            "page p95",
            "public.events",
            "soak_fleet (not judged)",
            "console fds",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // An empty run still draws (the axes), rather than failing.
        assert!(super::svg(&setup, &[], 30.0).is_ok());
    }
}
