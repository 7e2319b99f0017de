//! A trace drawn as a self-contained SVG swimlane picture, to open in any browser or image
//! viewer with no network: one lane per worker and one at the top, "outside", for threads
//! outside the workers (and the injector they feed), time running left to right.
//!
//! - A poll is a bar coloured by where the worker found the task ([`TaskSource`]); polls
//!   too short to see apart (closer than `MERGE_PX` at the picture's scale) that came from
//!   the same place are drawn as one bar, whose tooltip says how many it holds.
//! - A sleep is a pale band across the lane: grey on the worker's condvar, blue in the driver;
//!   its tooltip says why it ended. A search is a pale yellow band.
//! - A steal is a black arrow from the robbed lane (or the outside lane, for the injector)
//!   to the thief's lane.
//! - A wake or spawn whose task is polled on another lane is a green arrow from the waker to
//!   the poll; one polled on the waker's own lane is not drawn (the polls show it). When the
//!   window holds more than `MAX_WAKE_ARROWS` of them, they are summed up: one arrow per pair
//!   of lanes and column of `WAKE_BUCKET_PX`, thicker the more wakes it stands for, its
//!   tooltip counting them.
//!   Steals past `MAX_STEAL_ARROWS` are summed up the same way.
//! - An unpark is a dashed brown arrow from the waker's lane to the worker it woke.
//! - The picture shows a window of at most `Trace::SVG_DETAIL_SPAN` in detail. When the trace is
//!   longer, a strip above it sums up the whole run (each worker's share of time spent
//!   polling, in 200 columns) and marks where the detailed window lies.

use std::io::{self, Write};
use std::time::Duration;

use super::trace::{TaskSource, Trace, TraceEvent, TraceKind};

/// Neighbouring polls from one source closer than this many pixels are drawn as one bar.
const MERGE_PX: f64 = 1.0;
/// Past this many cross-lane wakes in the window, wake arrows are summed up.
const MAX_WAKE_ARROWS: usize = 60;
/// Past this many steals in the window, steal arrows are summed up the same way.
const MAX_STEAL_ARROWS: usize = 60;
/// The width of the columns summed-up wake (and steal) arrows are gathered in.
const WAKE_BUCKET_PX: f64 = 24.0;
const WAKE_COLOUR: &str = "#2ca02c";
const UNPARK_COLOUR: &str = "#8c564b";
const SLOW_POLL_COLOUR: &str = "#d62728";
const SEARCH_FILL: &str = "#fff1b8";

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const LANE_H: f64 = 26.0;
const LANE_GAP: f64 = 8.0;
const SUMMARY_H: f64 = 18.0;
const SUMMARY_COLUMNS: usize = 200;

fn colour(source: TaskSource) -> &'static str {
    match source {
        TaskSource::LifoSlot => "#d62728",
        TaskSource::Ready => "#ff7f0e",
        TaskSource::Queue => "#1f77b4",
        TaskSource::Injector => "#17becf",
        TaskSource::Stolen => "#9467bd",
    }
}

const SOURCES: [TaskSource; 5] = [
    TaskSource::LifoSlot,
    TaskSource::Ready,
    TaskSource::Queue,
    TaskSource::Injector,
    TaskSource::Stolen,
];

/// Maps trace time to the picture's x coordinate.
struct Scale {
    from: Duration,
    to: Duration,
}

impl Scale {
    fn x(&self, t: Duration) -> f64 {
        let span = (self.to - self.from).as_secs_f64().max(1e-9);
        let t = t.clamp(self.from, self.to);
        LEFT + (t - self.from).as_secs_f64() / span * (WIDTH - LEFT - RIGHT)
    }
}

/// A duration written for people: `850 ns`, `12.5 µs`, `3.20 ms`.
fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

/// A tick spacing of 1, 2 or 5 times a power of ten giving about `n` ticks over `span`.
fn tick_step(span: Duration, n: u32) -> Duration {
    let raw = (span.as_nanos() / u128::from(n)).max(1);
    let mut step = 1u128;
    while step * 10 <= raw {
        step *= 10;
    }
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| step * m)
        .find(|s| *s >= raw)
        .unwrap_or(step * 10);
    Duration::from_nanos(step.min(u128::from(u64::MAX)) as u64)
}

/// `worker 3`, or `outside` for threads outside the workers.
/// `s` escaped for SVG text (a task's name is the user's).
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn lane_name(worker: Option<usize>) -> String {
    worker.map_or("outside".to_owned(), |w| format!("worker {w}"))
}

fn source_index(source: TaskSource) -> usize {
    SOURCES.iter().position(|s| *s == source).unwrap_or(0)
}

/// One bar of polls: from one source, or a column split by source in proportion to the polls
/// from each (equal parts when none of them started in it).
fn write_bar(
    out: &mut dyn Write,
    parts: &[(TaskSource, usize, Duration)],
    x: f64,
    top: f64,
    width: f64,
    height: f64,
) -> io::Result<()> {
    let total: usize = parts.iter().map(|p| p.1).sum();
    let busy: Duration = parts.iter().map(|p| p.2).sum();
    let what = match parts {
        [(source, 1, _)] => format!("a poll of a task found in {}", source.name()),
        [(source, n, _)] => format!("{n} polls of tasks found in {}", source.name()),
        _ => {
            let each: Vec<String> = parts
                .iter()
                .map(|(s, n, _)| format!("{} {n}", s.name()))
                .collect();
            format!("{total} polls of tasks found in: {}", each.join(", "))
        }
    };
    let mut y = top;
    for (source, n, _) in parts {
        let share = if total == 0 {
            1.0 / parts.len() as f64
        } else {
            *n as f64 / total as f64
        };
        let h = share * height;
        writeln!(
            out,
            "<rect class=\"poll\" data-from=\"{}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" \
             height=\"{h:.2}\" fill=\"{}\"><title>{what}, {} busy</title></rect>",
            source.name(),
            width.max(0.6),
            colour(*source),
            human(busy)
        )?;
        y += h;
    }
    Ok(())
}

impl Trace {
    /// The longest stretch [`write_svg`](Trace::write_svg) draws in detail: a few
    /// milliseconds already hold thousands of polls.
    pub const SVG_DETAIL_SPAN: Duration = Duration::from_millis(5);

    /// Writes the trace as a self-contained SVG picture: one lane per worker (and one for
    /// threads outside the workers and the injector) with time left to right; polls as bars
    /// coloured by where the task was found (polls too close to tell apart merged into one
    /// bar, its tooltip counting them); sleeps and searches shaded; steals as arrows from the
    /// victim's lane to the thief's, wakes as arrows from the waker's lane to the poll they
    /// led to on another lane (summed up per column when there are many), unparks as dashed
    /// arrows; a time axis and a legend. The whole run is drawn in detail when it is at most
    /// [`SVG_DETAIL_SPAN`](Trace::SVG_DETAIL_SPAN) long; else that much from its first event, a longer run gets a strip above that sums it up (each worker's
    /// share of time spent polling, in 200 columns) and marks the detailed window.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_executor::Builder;
    ///
    /// let rt = Builder::new().worker_threads(2).trace(10_000).build().unwrap();
    /// rt.block_on(async {
    ///     let tasks: Vec<_> = (0..100).map(|i| weft_executor::spawn(async move { i })).collect();
    ///     for t in tasks {
    ///         t.await.unwrap();
    ///     }
    /// });
    /// let handle = rt.handle().clone();
    /// drop(rt);
    /// let mut svg = Vec::new();
    /// handle.take_trace().write_svg(&mut svg).unwrap();
    /// assert!(svg.starts_with(b"<svg"));
    /// ```
    pub fn write_svg(&self, out: impl Write) -> io::Result<()> {
        let from = self.events().first().map_or(Duration::ZERO, |e| e.start);
        let end = self
            .events()
            .iter()
            .map(|e| e.start + e.duration)
            .max()
            .unwrap_or(from);
        self.write_svg_window(out, from, end.min(from + Trace::SVG_DETAIL_SPAN))
    }

    /// Writes the trace as an SVG picture whose detailed part shows the events overlapping
    /// `from..to` (times since the runtime was built, as in [`TraceEvent::start`]).
    pub fn write_svg_window(
        &self,
        mut out: impl Write,
        from: Duration,
        to: Duration,
    ) -> io::Result<()> {
        let to = if to > from {
            to
        } else {
            from + Duration::from_micros(1)
        };
        let events = self.events();
        let lanes = events
            .iter()
            .filter_map(|e| e.worker)
            .map(|w| w + 1)
            .max()
            .unwrap_or(0)
            .max(self.workers());
        let run_start = events.first().map_or(Duration::ZERO, |e| e.start);
        let run_end = events
            .iter()
            .map(|e| e.start + e.duration)
            .max()
            .unwrap_or(run_start);
        let summarised = run_start < from || run_end > to;

        let mut y = 30.0;
        let summary_top = y;
        if summarised {
            y += lanes as f64 * (SUMMARY_H + 2.0) + 34.0;
        }
        // Lane 0 is threads outside the workers (and the injector they feed); then one per
        // worker.
        let lanes_top = y;
        let lane_y = |lane: usize| lanes_top + lane as f64 * (LANE_H + LANE_GAP);
        let lane_of = |worker: Option<usize>| worker.map_or(0, |w| w + 1);
        let mid = |lane: usize| lane_y(lane) + LANE_H / 2.0;
        let axis_y = lane_y(lanes + 1) + 4.0;
        let legend_y = axis_y + 34.0;
        let height = legend_y + 70.0;

        writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" \
             viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">"
        )?;
        write!(out, "<defs>")?;
        for (id, fill) in [
            ("arrow", "#333"),
            ("arrow-wake", WAKE_COLOUR),
            ("arrow-unpark", UNPARK_COLOUR),
        ] {
            write!(
                out,
                "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" markerUnits=\"userSpaceOnUse\" \
                 markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
                 fill=\"{fill}\"/></marker>"
            )?;
        }
        writeln!(out, "</defs>")?;
        writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")?;
        writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"18\" font-size=\"14\">weft trace: {} events, {} to {} shown{}</text>",
            events.len(),
            human(from),
            human(to),
            if self.dropped() > 0 { format!(" ({} events dropped)", self.dropped()) } else { String::new() }
        )?;

        if summarised {
            self.write_summary(&mut out, lanes, summary_top, run_start, run_end, from, to)?;
        }

        let scale = Scale { from, to };
        let visible = |e: &&TraceEvent| e.start <= to && e.start + e.duration >= from;

        // Lane backgrounds and labels.
        for lane in 0..=lanes {
            let top = lane_y(lane);
            let label = if lane == 0 {
                "outside".to_owned()
            } else {
                format!("worker {}", lane - 1)
            };
            writeln!(
                out,
                "<g class=\"lane\" data-lane=\"{label}\"><rect x=\"{LEFT}\" y=\"{top:.1}\" \
                 width=\"{:.1}\" height=\"{LANE_H}\" fill=\"#f7f7f7\"/><text x=\"8\" y=\"{:.1}\">{label}</text></g>",
                WIDTH - LEFT - RIGHT,
                top + LANE_H / 2.0 + 4.0
            )?;
        }

        // Sleeps and searches under everything else.
        for e in events.iter().filter(visible) {
            let (x0, x1) = (scale.x(e.start), scale.x(e.start + e.duration));
            let (class, fill, what) = match e.kind {
                TraceKind::Park { in_driver, woke } => (
                    "park",
                    if in_driver { "#cfe0f5" } else { "#dddddd" },
                    format!(
                        "{} for {}, woke: {}",
                        if in_driver {
                            "asleep in the driver"
                        } else {
                            "asleep"
                        },
                        human(e.duration),
                        woke.name()
                    ),
                ),
                TraceKind::Search { found } => (
                    "search",
                    SEARCH_FILL,
                    format!(
                        "searching for {}, {}",
                        human(e.duration),
                        if found {
                            "found a task"
                        } else {
                            "found nothing"
                        }
                    ),
                ),
                _ => continue,
            };
            writeln!(
                out,
                "<rect class=\"{class}\" x=\"{x0:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{LANE_H}\" \
                 fill=\"{fill}\"><title>{what}</title></rect>",
                lane_y(lane_of(e.worker)),
                (x1 - x0).max(0.5),
            )?;
        }

        // Polls. One wide enough to see is drawn as it is. Shorter ones are summed per column
        // of `MERGE_PX`: a run of columns holding polls from one source only becomes one bar; a
        // column mixing sources is split top to bottom by how many polls came from each.
        let plot_w = WIDTH - LEFT - RIGHT;
        let columns = (plot_w / MERGE_PX).ceil() as usize;
        let column_of = |x: f64| (((x - LEFT) / MERGE_PX) as usize).min(columns - 1);
        for worker in 0..lanes {
            let top = lane_y(worker + 1) + 3.0;
            let bar_h = LANE_H - 6.0;
            // Per column and source: polls that start there, their busy time, and presence.
            let mut bins = vec![[(0usize, Duration::ZERO, false); SOURCES.len()]; columns];
            for e in events
                .iter()
                .filter(visible)
                .filter(|e| e.worker == Some(worker))
            {
                let TraceKind::Poll { from: source, .. } = e.kind else {
                    continue;
                };
                let (x0, x1) = (scale.x(e.start), scale.x(e.start + e.duration));
                if x1 - x0 >= 2.0 * MERGE_PX {
                    write_bar(
                        &mut out,
                        &[(source, 1, e.duration)],
                        x0,
                        top,
                        x1 - x0,
                        bar_h,
                    )?;
                    continue;
                }
                let i = source_index(source);
                let first = column_of(x0);
                bins[first][i].0 += 1;
                bins[first][i].1 += e.duration;
                for bin in &mut bins[first..=column_of(x1).max(first)] {
                    bin[i].2 = true;
                }
            }
            let single = |bin: &[(usize, Duration, bool)]| {
                let mut present = bin.iter().enumerate().filter(|(_, b)| b.2);
                match (present.next(), present.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            };
            let mut c = 0;
            while c < columns {
                let bin = &bins[c];
                if !bin.iter().any(|b| b.2) {
                    c += 1;
                    continue;
                }
                let x = LEFT + c as f64 * MERGE_PX;
                if let Some(i) = single(bin) {
                    let (mut count, mut busy, mut end) = (0, Duration::ZERO, c);
                    while end < columns && single(&bins[end]) == Some(i) {
                        count += bins[end][i].0;
                        busy += bins[end][i].1;
                        end += 1;
                    }
                    let w = (end - c) as f64 * MERGE_PX;
                    write_bar(&mut out, &[(SOURCES[i], count, busy)], x, top, w, bar_h)?;
                    c = end;
                } else {
                    let parts: Vec<_> = SOURCES
                        .iter()
                        .zip(bin.iter())
                        .filter(|(_, b)| b.2)
                        .map(|(s, b)| (*s, b.0, b.1))
                        .collect();
                    write_bar(&mut out, &parts, x, top, MERGE_PX, bar_h)?;
                    c += 1;
                }
            }
        }

        // Slow polls (`TraceKind::SlowPoll`, only with a threshold): a red frame around the
        // poll, at least 3 px wide so a short one in a merged column still shows.
        let mut slow_polls = 0;
        for e in events.iter().filter(visible) {
            if let TraceKind::SlowPoll { task } = e.kind {
                slow_polls += 1;
                let (x0, x1) = (scale.x(e.start), scale.x(e.start + e.duration));
                let name = match self.task_name(task) {
                    Some(n) => format!(" &quot;{}&quot;", xml(n)),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "<rect class=\"slow-poll\" x=\"{x0:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" \
                     fill=\"none\" stroke=\"{SLOW_POLL_COLOUR}\" stroke-width=\"2\"><title>slow poll: \
                     task {task}{name} held {} for {} from {}</title></rect>",
                    lane_y(lane_of(e.worker)) + 1.0,
                    (x1 - x0).max(3.0),
                    LANE_H - 2.0,
                    lane_name(e.worker),
                    human(e.duration),
                    human(e.start)
                )?;
            }
        }

        // Unparks: a dashed arrow from the waker's lane to the sleeper's.
        for e in events.iter().filter(visible) {
            if let TraceKind::Unpark { worker } = e.kind {
                let x = scale.x(e.start);
                let (y0, y1) = (mid(lane_of(e.worker)), mid(worker + 1));
                writeln!(
                    out,
                    "<path class=\"unpark\" d=\"M{x:.2},{y0:.1} L{:.2},{y1:.1}\" stroke=\"{UNPARK_COLOUR}\" \
                     stroke-width=\"1\" stroke-dasharray=\"3,2\" fill=\"none\" \
                     marker-end=\"url(#arrow-unpark)\"><title>{} woke worker {worker} at {}</title></path>",
                    x + 0.01,
                    lane_name(e.worker),
                    human(e.start)
                )?;
            }
        }

        self.write_wakes(&mut out, &scale, from, to, &mid)?;

        // Steals, over the wakes: an arrow from the victim's lane to the thief's, labelled
        // with what it took from while there are few.
        let steals = events
            .iter()
            .filter(visible)
            .filter(|e| matches!(e.kind, TraceKind::Steal { .. }))
            .count();
        let few_steals = steals <= 12;
        if steals > MAX_STEAL_ARROWS {
            // Many: one arrow per (victim lane, thief lane, column), as for wakes.
            let mut buckets: std::collections::BTreeMap<
                (usize, usize, usize),
                (usize, usize, f64),
            > = Default::default();
            for e in events.iter().filter(visible) {
                if let TraceKind::Steal { victim, tasks, .. } = e.kind {
                    let x = scale.x(e.start);
                    let column = ((x - LEFT) / WAKE_BUCKET_PX) as usize;
                    let b = buckets
                        .entry((lane_of(victim), lane_of(e.worker), column))
                        .or_insert((0, 0, 0.0));
                    b.0 += 1;
                    b.1 += tasks;
                    b.2 += x;
                }
            }
            for ((l0, l1, _), (n, tasks, sum)) in buckets {
                let x = sum / n as f64;
                let (y0, y1) = (mid(l0), mid(l1));
                writeln!(
                    out,
                    "<path class=\"steal\" d=\"M{x:.2},{y0:.1} C{:.2},{y0:.1} {:.2},{y1:.1} {:.2},{y1:.1}\" \
                     stroke=\"#333\" stroke-width=\"{:.1}\" fill=\"none\" marker-end=\"url(#arrow)\">\
                     <title>{n} steals ({tasks} tasks) by {} from {}</title></path>",
                    x + 8.0,
                    x - 8.0,
                    x + 0.01,
                    1.5 + (n as f64).log2().min(4.0),
                    lane_name(l1.checked_sub(1)),
                    if l0 == 0 {
                        "the injector".to_owned()
                    } else {
                        lane_name(l0.checked_sub(1))
                    }
                )?;
            }
        }
        for e in events
            .iter()
            .filter(|_| steals <= MAX_STEAL_ARROWS)
            .filter(visible)
        {
            if let TraceKind::Steal {
                victim,
                from: place,
                tasks,
            } = e.kind
            {
                let x = scale.x(e.start);
                let (y0, y1) = (mid(lane_of(victim)), mid(lane_of(e.worker)));
                let victim_name = victim.map_or("the injector".to_owned(), |v| {
                    format!("worker {v} (its {})", place.name())
                });
                writeln!(
                    out,
                    "<path class=\"steal\" d=\"M{x:.2},{y0:.1} C{:.2},{y0:.1} {:.2},{y1:.1} {:.2},{y1:.1}\" \
                     stroke=\"#333\" stroke-width=\"2\" fill=\"none\" marker-end=\"url(#arrow)\">\
                     <title>worker {} took {tasks} tasks from {victim_name} at {}</title></path>",
                    x + 8.0,
                    x - 8.0,
                    x + 0.01,
                    lane_of(e.worker).saturating_sub(1),
                    human(e.start)
                )?;
                if few_steals {
                    writeln!(
                        out,
                        "<text x=\"{:.2}\" y=\"{:.1}\" font-size=\"10\">steal: {}</text>",
                        x + 4.0,
                        (y0 + y1) / 2.0 + 3.0,
                        victim.map_or("injector", |_| place.name())
                    )?;
                }
            }
        }

        // The time axis.
        writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#333\"/>",
            WIDTH - RIGHT
        )?;
        let step = tick_step(to - from, 10);
        let mut t = Duration::from_nanos(
            (from.as_nanos().div_ceil(step.as_nanos()) * step.as_nanos()).min(u128::from(u64::MAX))
                as u64,
        );
        while t <= to {
            let x = scale.x(t);
            writeln!(
                out,
                "<line x1=\"{x:.2}\" y1=\"{axis_y:.1}\" x2=\"{x:.2}\" y2=\"{:.1}\" stroke=\"#333\"/>\
                 <text x=\"{x:.2}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                axis_y + 5.0,
                axis_y + 18.0,
                human(t)
            )?;
            t += step;
        }

        // The legend, wrapped onto a second row when it does not fit.
        let (mut x, mut row_y) = (LEFT, legend_y);
        let mut item = |out: &mut dyn Write, fill: Option<&str>, label: &str| -> io::Result<()> {
            let w = 24.0 + 6.8 * label.chars().count() as f64;
            if x + w > WIDTH - RIGHT {
                (x, row_y) = (LEFT, row_y + 20.0);
            }
            if let Some(fill) = fill {
                write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{row_y:.1}\" width=\"14\" height=\"14\" fill=\"{fill}\"/>"
                )?;
            }
            writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                x + if fill.is_some() { 18.0 } else { 0.0 },
                row_y + 11.0
            )?;
            x += w;
            Ok(())
        };
        for source in SOURCES {
            item(
                &mut out,
                Some(colour(source)),
                &format!("poll: found in {}", source.name()),
            )?;
        }
        item(&mut out, Some("#dddddd"), "asleep")?;
        item(&mut out, Some("#cfe0f5"), "asleep in the driver")?;
        item(&mut out, Some(SEARCH_FILL), "searching")?;
        item(&mut out, Some("#333"), "→ steal (victim to thief)")?;
        item(
            &mut out,
            Some(WAKE_COLOUR),
            "→ wake or spawn polled on another lane",
        )?;
        item(&mut out, Some(UNPARK_COLOUR), "⇢ unpark (waker to sleeper)")?;
        if slow_polls > 0 {
            item(
                &mut out,
                Some(SLOW_POLL_COLOUR),
                "□ slow poll (over the threshold)",
            )?;
        }
        item(
            &mut out,
            None,
            "outside: threads outside the workers, and the injector",
        )?;
        writeln!(out, "</svg>")
    }

    /// Wake (and spawn) arrows: from the waker's lane to the poll they led to on another lane;
    /// summed up per pair of lanes and column when there are more than `MAX_WAKE_ARROWS`.
    fn write_wakes(
        &self,
        out: &mut dyn Write,
        scale: &Scale,
        from: Duration,
        to: Duration,
        mid: &dyn Fn(usize) -> f64,
    ) -> io::Result<()> {
        let events = self.events();
        let lane_of = |worker: Option<usize>| worker.map_or(0, |w| w + 1);
        let arrows: Vec<(&TraceEvent, &TraceEvent)> = self
            .wake_pairs()
            .into_iter()
            .map(|(w, p)| (&events[w], &events[p]))
            .filter(|(w, p)| lane_of(w.worker) != lane_of(p.worker))
            // Both ends may lie outside the window (then clamped to its edge), not both
            // on one side of it.
            .filter(|(w, p)| w.start <= to && p.start >= from)
            .collect();
        let curve = |out: &mut dyn Write, x0: f64, l0: usize, x1: f64, l1: usize, width: f64| {
            let (y0, y1) = (mid(l0), mid(l1));
            let bend = ((x1 - x0) / 2.0).max(6.0);
            write!(
                out,
                "<path class=\"wake\" d=\"M{x0:.2},{y0:.1} C{:.2},{y0:.1} {:.2},{y1:.1} {:.2},{y1:.1}\" \
                 stroke=\"{WAKE_COLOUR}\" stroke-width=\"{width:.1}\" fill=\"none\" \
                 marker-end=\"url(#arrow-wake)\">",
                x0 + bend,
                x1 - bend,
                x1 + 0.01
            )
        };
        if arrows.len() <= MAX_WAKE_ARROWS {
            for (w, p) in arrows {
                let (x0, x1) = (scale.x(w.start), scale.x(p.start));
                curve(out, x0, lane_of(w.worker), x1, lane_of(p.worker), 1.2)?;
                let (verb, task, place) = match w.kind {
                    TraceKind::Wake { task, to } => ("woke", task, to),
                    TraceKind::Spawn { task, to } => ("spawned", task, to),
                    _ => continue,
                };
                let from = match p.kind {
                    TraceKind::Poll { from, .. } => from.name(),
                    _ => "",
                };
                writeln!(
                    out,
                    "<title>{} {verb} task {task} into {} at {}; {} polled it (found in {from}) \
                     at {}</title></path>",
                    lane_name(w.worker),
                    if place == super::trace::Place::Injector {
                        "the injector".to_owned()
                    } else {
                        format!("its {}", place.name())
                    },
                    human(w.start),
                    lane_name(p.worker),
                    human(p.start)
                )?;
            }
            return Ok(());
        }
        // Many: one arrow per (waker lane, poller lane, column of the wake).
        let mut buckets: std::collections::BTreeMap<(usize, usize, usize), (usize, f64, f64)> =
            Default::default();
        for (w, p) in &arrows {
            let (x0, x1) = (scale.x(w.start), scale.x(p.start));
            let column = ((x0 - LEFT) / WAKE_BUCKET_PX) as usize;
            let b = buckets
                .entry((lane_of(w.worker), lane_of(p.worker), column))
                .or_insert((0, 0.0, 0.0));
            b.0 += 1;
            b.1 += x0;
            b.2 += x1;
        }
        for ((l0, l1, _), (n, sum0, sum1)) in buckets {
            let (x0, x1) = (sum0 / n as f64, sum1 / n as f64);
            let width = 1.0 + (n as f64).log2().min(4.0);
            curve(out, x0, l0, x1, l1, width)?;
            writeln!(
                out,
                "<title>{n} wakes or spawns from {} polled on {}</title></path>",
                lane_name(l0.checked_sub(1)),
                lane_name(l1.checked_sub(1))
            )?;
        }
        Ok(())
    }

    /// The strip above the detail: per worker, the share of each column's time spent polling.
    #[allow(clippy::too_many_arguments)]
    fn write_summary(
        &self,
        out: &mut dyn Write,
        lanes: usize,
        top: f64,
        run_start: Duration,
        run_end: Duration,
        from: Duration,
        to: Duration,
    ) -> io::Result<()> {
        let scale = Scale {
            from: run_start,
            to: run_end.max(run_start + Duration::from_nanos(1)),
        };
        let span = (scale.to - scale.from).as_secs_f64();
        let column = span / SUMMARY_COLUMNS as f64;
        let column_w = (WIDTH - LEFT - RIGHT) / SUMMARY_COLUMNS as f64;
        writeln!(
            out,
            "<text x=\"8\" y=\"{:.1}\" font-size=\"11\">whole run, {}:</text>",
            top + 12.0,
            human(run_end - run_start)
        )?;
        for worker in 0..lanes {
            let mut busy = vec![0.0f64; SUMMARY_COLUMNS];
            for e in self.events().iter().filter(|e| e.worker == Some(worker)) {
                if !matches!(e.kind, TraceKind::Poll { .. }) {
                    continue;
                }
                // Spread the poll over the columns it overlaps.
                let (mut s, end) = (
                    (e.start - run_start).as_secs_f64(),
                    (e.start + e.duration - run_start).as_secs_f64(),
                );
                while s < end {
                    let c = ((s / column) as usize).min(SUMMARY_COLUMNS - 1);
                    let column_end = (c + 1) as f64 * column;
                    let piece = end.min(column_end) - s;
                    busy[c] += piece;
                    s += piece.max(1e-12);
                }
            }
            let base = top + 18.0 + worker as f64 * (SUMMARY_H + 2.0);
            writeln!(
                out,
                "<text x=\"8\" y=\"{:.1}\" font-size=\"11\">worker {worker} busy</text>",
                base + 13.0
            )?;
            writeln!(
                out,
                "<rect x=\"{LEFT}\" y=\"{base:.1}\" width=\"{:.1}\" height=\"{SUMMARY_H}\" fill=\"#f7f7f7\"/>",
                WIDTH - LEFT - RIGHT
            )?;
            for (c, b) in busy.iter().enumerate() {
                let share = (b / column).clamp(0.0, 1.0);
                if share > 0.0 {
                    let h = share * SUMMARY_H;
                    writeln!(
                        out,
                        "<rect class=\"summary\" x=\"{:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{h:.1}\" fill=\"#555\"/>",
                        LEFT + c as f64 * column_w,
                        base + SUMMARY_H - h,
                        column_w + 0.3
                    )?;
                }
            }
        }
        let (x0, x1) = (scale.x(from), scale.x(to));
        let bottom = top + 18.0 + lanes as f64 * (SUMMARY_H + 2.0);
        writeln!(
            out,
            "<rect class=\"window\" x=\"{x0:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"none\" \
             stroke=\"#d62728\" stroke-width=\"1.5\"><title>the window drawn below</title></rect>",
            top + 16.0,
            (x1 - x0).max(1.0),
            bottom - top - 16.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::trace::{ParkEnd, Place, TaskSource, Trace, TraceEvent, TraceKind};
    use crate::task::Id;

    fn event(worker: usize, start_us: u64, dur_us: u64, kind: TraceKind) -> TraceEvent {
        at(Some(worker), start_us, dur_us, kind)
    }

    fn at(worker: Option<usize>, start_us: u64, dur_us: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            worker,
            start: Duration::from_micros(start_us),
            duration: Duration::from_micros(dur_us),
            kind,
        }
    }

    /// Checks that every element opened is closed, in order, and returns the tag names seen.
    fn well_formed(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = svg;
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').expect("an unclosed tag") + at;
            let tag = &rest[at + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name),
                    "</{name}> closes the wrong element"
                );
            } else {
                let name = tag
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_owned();
                seen.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        seen
    }

    fn svg_of(trace: &Trace, from_us: u64, to_us: u64) -> String {
        let mut out = Vec::new();
        trace
            .write_svg_window(
                &mut out,
                Duration::from_micros(from_us),
                Duration::from_micros(to_us),
            )
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lanes_polls_parks_and_steal_arrows_are_all_drawn() {
        let trace = Trace::from_events(vec![
            event(
                0,
                0,
                10,
                TraceKind::Poll {
                    task: Id::for_test(1),
                    from: TaskSource::LifoSlot,
                },
            ),
            event(
                0,
                50,
                10,
                TraceKind::Poll {
                    task: Id::for_test(2),
                    from: TaskSource::Queue,
                },
            ),
            event(
                1,
                0,
                40,
                TraceKind::Park {
                    in_driver: true,
                    woke: ParkEnd::Notified,
                },
            ),
            event(
                1,
                45,
                0,
                TraceKind::Steal {
                    victim: Some(0),
                    from: Place::Queue,
                    tasks: 3,
                },
            ),
            event(
                1,
                46,
                5,
                TraceKind::Poll {
                    task: Id::for_test(3),
                    from: TaskSource::Stolen,
                },
            ),
            event(
                1,
                70,
                0,
                TraceKind::Steal {
                    victim: None,
                    from: Place::Injector,
                    tasks: 1,
                },
            ),
        ]);
        let svg = svg_of(&trace, 0, 100);
        well_formed(&svg);
        assert_eq!(
            svg.matches("class=\"lane\"").count(),
            3,
            "the outside lane and two workers"
        );
        assert!(svg.contains("data-lane=\"outside\""));
        assert_eq!(svg.matches("class=\"poll\"").count(), 3);
        assert_eq!(svg.matches("class=\"park\"").count(), 1);
        assert_eq!(svg.matches("class=\"steal\"").count(), 2);
        assert!(svg.contains("worker 1 took 3 tasks from worker 0 (its queue)"));
        assert!(svg.contains("worker 1 took 1 tasks from the injector"));
        assert!(
            !svg.contains("class=\"summary\""),
            "everything fits: no summary strip"
        );
    }

    #[test]
    fn close_polls_from_one_source_merge_and_others_do_not() {
        // 1,000 polls of 1 µs back to back over 1 ms: far under a pixel each at 1 ms wide.
        let mut events: Vec<_> = (0..1000)
            .map(|i| {
                event(
                    0,
                    i,
                    1,
                    TraceKind::Poll {
                        task: Id::for_test(i + 1),
                        from: TaskSource::Queue,
                    },
                )
            })
            .collect();
        events.push(event(0, 1050, 1, lifo_poll(9)));
        let svg = svg_of(&Trace::from_events(events), 0, 1100);
        well_formed(&svg);
        assert_eq!(svg.matches("class=\"poll\"").count(), 2);
        assert!(svg.contains("1000 polls of tasks found in queue"));
        assert!(svg.contains("a poll of a task found in lifo"));
    }

    fn lifo_poll(task: u64) -> TraceKind {
        TraceKind::Poll {
            task: Id::for_test(task),
            from: TaskSource::LifoSlot,
        }
    }

    fn queue_poll(task: u64) -> TraceKind {
        TraceKind::Poll {
            task: Id::for_test(task),
            from: TaskSource::Queue,
        }
    }

    #[test]
    fn a_column_mixing_sources_is_split_by_their_counts() {
        // Three queue polls and one LIFO poll within a fraction of a pixel.
        let events = vec![
            event(0, 0, 0, queue_poll(1)),
            event(0, 0, 0, lifo_poll(2)),
            event(0, 0, 0, queue_poll(3)),
            event(0, 0, 0, queue_poll(4)),
        ];
        let svg = svg_of(&Trace::from_events(events), 0, 100_000);
        well_formed(&svg);
        assert_eq!(svg.matches("class=\"poll\"").count(), 2);
        assert!(svg.contains("4 polls of tasks found in: lifo 1, queue 3"));
        assert!(
            svg.contains("height=\"15.00\""),
            "queue's three quarters of a 20 px bar"
        );
    }

    #[test]
    fn a_long_run_gets_a_summary_and_the_window_only_holds_its_events() {
        let events = vec![
            event(
                0,
                0,
                10,
                TraceKind::Poll {
                    task: Id::for_test(1),
                    from: TaskSource::Queue,
                },
            ),
            event(
                0,
                20_000,
                10,
                TraceKind::Poll {
                    task: Id::for_test(2),
                    from: TaskSource::Ready,
                },
            ),
            event(
                1,
                20_005,
                0,
                TraceKind::Steal {
                    victim: Some(0),
                    from: Place::LifoSlot,
                    tasks: 1,
                },
            ),
        ];
        let svg = svg_of(&Trace::from_events(events), 19_000, 21_000);
        well_formed(&svg);
        assert!(svg.contains("class=\"window\""));
        assert!(svg.contains("class=\"summary\""));
        assert_eq!(
            svg.matches("class=\"poll\"").count(),
            1,
            "only the poll inside the window"
        );
        assert_eq!(svg.matches("class=\"steal\"").count(), 1);
    }

    /// A trace where: outside spawns task 1, worker 0 polls it; during that poll worker 0
    /// spawns task 2 into its LIFO slot and wakes task 3 into it (pushing 2 out), and unparks
    /// worker 1; worker 1 searches, steals task 2 from worker 0's queue, polls it; worker 0
    /// polls task 3 (same lane: no arrow).
    fn journey() -> Trace {
        let spawn = |task, to| TraceKind::Spawn {
            task: Id::for_test(task),
            to,
        };
        Trace::from_events(vec![
            at(None, 0, 0, spawn(1, Place::Injector)),
            event(
                1,
                0,
                20,
                TraceKind::Park {
                    in_driver: false,
                    woke: ParkEnd::Notified,
                },
            ),
            event(
                0,
                2,
                30,
                TraceKind::Poll {
                    task: Id::for_test(1),
                    from: TaskSource::Injector,
                },
            ),
            event(0, 5, 0, spawn(2, Place::LifoSlot)),
            event(
                0,
                8,
                0,
                TraceKind::LifoDisplaced {
                    task: Id::for_test(2),
                },
            ),
            event(
                0,
                8,
                0,
                TraceKind::Wake {
                    task: Id::for_test(3),
                    to: Place::LifoSlot,
                },
            ),
            event(0, 9, 0, TraceKind::Unpark { worker: 1 }),
            event(1, 21, 10, TraceKind::Search { found: true }),
            event(
                1,
                30,
                0,
                TraceKind::Steal {
                    victim: Some(0),
                    from: Place::Queue,
                    tasks: 1,
                },
            ),
            event(
                1,
                31,
                10,
                TraceKind::Poll {
                    task: Id::for_test(2),
                    from: TaskSource::Stolen,
                },
            ),
            event(0, 33, 5, lifo_poll(3)),
        ])
    }

    #[test]
    fn wakes_steals_unparks_and_searches_are_drawn_between_the_right_lanes() {
        let trace = journey();
        assert_eq!(trace.wake_pairs().len(), 3, "spawn 1, spawn 2, wake 3");
        let svg = svg_of(&trace, 0, 50);
        well_formed(&svg);
        assert_eq!(svg.matches("class=\"lane\"").count(), 3);
        // Cross-lane: outside to worker 0 (task 1), worker 0 to worker 1 (task 2). Task 3
        // ran where it was woken: no arrow.
        assert_eq!(svg.matches("class=\"wake\"").count(), 2);
        assert!(svg.contains("outside spawned task 1 into the injector"));
        assert!(svg.contains(
            "worker 0 spawned task 2 into its lifo at 5.0 µs; worker 1 polled it (found in stolen)"
        ));
        assert_eq!(svg.matches("class=\"steal\"").count(), 1);
        assert!(svg.contains("worker 1 took 1 tasks from worker 0 (its queue)"));
        assert_eq!(svg.matches("class=\"unpark\"").count(), 1);
        assert!(svg.contains("worker 0 woke worker 1"));
        assert_eq!(svg.matches("class=\"search\"").count(), 1);
        assert!(svg.contains("woke: notified"));
    }

    #[test]
    fn many_wakes_are_summed_up_per_column() {
        // 500 wakes from worker 0, each polled by worker 1 a microsecond later, over 1 ms.
        let mut events = Vec::new();
        for i in 0..500u64 {
            events.push(event(
                0,
                2 * i,
                0,
                TraceKind::Wake {
                    task: Id::for_test(i + 1),
                    to: Place::Queue,
                },
            ));
            events.push(event(
                1,
                2 * i + 1,
                0,
                TraceKind::Poll {
                    task: Id::for_test(i + 1),
                    from: TaskSource::Stolen,
                },
            ));
        }
        let svg = svg_of(&Trace::from_events(events), 0, 1000);
        well_formed(&svg);
        let arrows = svg.matches("class=\"wake\"").count();
        assert!(
            (2..=MAX_WAKE_ARROWS).contains(&arrows),
            "{arrows} wake arrows for 500 wakes"
        );
        // Every wake is counted in some arrow's tooltip.
        let counted: usize = svg
            .split("<title>")
            .filter_map(|t| t.split_once(" wakes or spawns from worker 0 polled on worker 1"))
            .map(|(n, _)| n.parse::<usize>().unwrap())
            .sum();
        assert_eq!(counted, 500);
    }

    #[test]
    fn many_steals_are_summed_up_per_column() {
        // 300 steals by worker 1 from worker 0's ready queue, one every 3 µs.
        let events: Vec<_> = (0..300u64)
            .map(|i| {
                event(
                    1,
                    3 * i,
                    0,
                    TraceKind::Steal {
                        victim: Some(0),
                        from: Place::Ready,
                        tasks: 2,
                    },
                )
            })
            .collect();
        let svg = svg_of(&Trace::from_events(events), 0, 1000);
        well_formed(&svg);
        let arrows = svg.matches("class=\"steal\"").count();
        assert!(
            (2..=MAX_STEAL_ARROWS).contains(&arrows),
            "{arrows} steal arrows for 300 steals"
        );
        let (mut steals, mut tasks) = (0, 0);
        for t in svg.split("<title>").skip(1) {
            if let Some((n, rest)) = t.split_once(" steals (") {
                steals += n.parse::<usize>().unwrap();
                let (k, rest) = rest
                    .split_once(" tasks) by worker 1 from worker 0")
                    .unwrap();
                assert!(rest.starts_with("</title>"));
                tasks += k.parse::<usize>().unwrap();
            }
        }
        assert_eq!((steals, tasks), (300, 600));
    }

    #[test]
    fn an_empty_trace_is_still_a_picture() {
        let mut out = Vec::new();
        Trace::default().write_svg(&mut out).unwrap();
        well_formed(std::str::from_utf8(&out).unwrap());
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            tick_step(Duration::from_millis(5), 10),
            Duration::from_micros(500)
        );
        assert_eq!(
            tick_step(Duration::from_micros(100), 10),
            Duration::from_micros(10)
        );
        assert_eq!(
            tick_step(Duration::from_micros(130), 10),
            Duration::from_micros(20)
        );
    }
}
