//! Plot geometry shared by every chart of the lab: a frame with margins and linear or logarithmic
//! axes, "nice" ticks, a legend laid out in rows above the data, and labels placed beside their
//! points so that none covers another label or a mark. Web-free, so that the layout is tested
//! natively; `web::plot` draws it in SVG.
//!
//! Every chart is sized for a projector: its text is [`FONT`] user units high, and the pages
//! give each plot a viewBox no wider than the width it has at 1024×768, so that text is at
//! least 14 px there (`tests/e2e/plots.test.mjs` measures it).

/// The plots' text height in SVG user units (the stylesheet's `.error-plot text`).
pub const FONT: f64 = 15.0;

/// A generous estimate of the width of one character at [`FONT`] (the lab's sans-serif averages
/// about 0.53 em; digits and capitals are wider): layouts err on the side of room.
pub const CHAR_WIDTH: f64 = 0.6 * FONT;

/// The height of one row of text (a legend row, a stacked label).
pub const LINE: f64 = FONT + 5.0;

/// How far a line of text reaches above its baseline (the box a browser gives it).
pub const ASCENT: f64 = 0.95 * FONT;
/// How far it reaches below.
pub const DESCENT: f64 = 0.25 * FONT;

/// The estimated width of `text` at [`FONT`].
pub fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// An axis-aligned box in user units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    /// The box of `width × height` at `(x, y)`.
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Self {
        Rect {
            x0: x,
            y0: y,
            x1: x + width,
            y1: y + height,
        }
    }

    /// A small square around the point `(x, y)` (a mark of radius `r`).
    pub fn around(x: f64, y: f64, r: f64) -> Self {
        Rect {
            x0: x - r,
            y0: y - r,
            x1: x + r,
            y1: y + r,
        }
    }

    /// Whether the two boxes share more than a hairline.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 - 0.5
            && other.x0 < self.x1 - 0.5
            && self.y0 < other.y1 - 0.5
            && other.y0 < self.y1 - 0.5
    }

    /// Whether `self` lies inside `outer`.
    pub fn inside(&self, outer: &Rect) -> bool {
        self.x0 >= outer.x0 && self.x1 <= outer.x1 && self.y0 >= outer.y0 && self.y1 <= outer.y1
    }
}

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// One axis: the value range `[lo, hi]` drawn over the positions `[from, to]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub scale: Scale,
    from: f64,
    to: f64,
}

impl Axis {
    /// The position of `v`, clamped to the axis (a log axis takes `v ≤ 0` as its low end).
    pub fn at(&self, v: f64) -> f64 {
        let t = match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log if v <= 0.0 => 0.0,
            Scale::Log => (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()),
        };
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.from + t * (self.to - self.from)
    }
}

/// A plot's viewBox `w × h` and the margins around its data area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub w: f64,
    pub h: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// The margin below the data area that fits the x tick labels and the x-axis title.
pub const BOTTOM: f64 = 2.0 * LINE + 14.0;
/// The margin at the left that fits a rotated y-axis title and tick labels of `chars` characters.
pub fn left_margin(chars: usize) -> f64 {
    LINE + 12.0 + chars as f64 * CHAR_WIDTH
}

impl Frame {
    /// The data area.
    pub fn area(&self) -> Rect {
        Rect {
            x0: self.left,
            y0: self.top,
            x1: self.w - self.right,
            y1: self.h - self.bottom,
        }
    }

    /// A horizontal axis over the data area.
    pub fn x_axis(&self, lo: f64, hi: f64, scale: Scale) -> Axis {
        Axis {
            lo,
            hi,
            scale,
            from: self.left,
            to: self.w - self.right,
        }
    }

    /// A vertical axis over the data area, values growing upwards.
    pub fn y_axis(&self, lo: f64, hi: f64, scale: Scale) -> Axis {
        Axis {
            lo,
            hi,
            scale,
            from: self.h - self.bottom,
            to: self.top,
        }
    }

    /// The baseline of the x tick labels.
    pub fn x_tick_baseline(&self) -> f64 {
        self.h - self.bottom + 10.0 + FONT
    }

    /// The baseline of the x-axis title.
    pub fn x_title_baseline(&self) -> f64 {
        self.h - 8.0
    }

    /// The centre of the rotated y-axis title.
    pub fn y_title_x(&self) -> f64 {
        FONT
    }
}

/// A step of 1, 2, 2.5 or 5 × 10ᵏ that gives at most about `target` ticks over `span`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-12);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The multiples of `step` from `lo` to `hi` (both included, up to rounding).
pub fn linear_ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks of a logarithmic axis over `[lo, hi]`: 1, 2 and 5 × 10ᵏ when the range spans less than
/// two decades, else the decades only.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mantissas: &[f64] = if hi / lo < 100.0 {
        &[1.0, 1.5, 2.0, 3.0, 5.0]
    } else {
        &[1.0]
    };
    (a..=b)
        .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|t| *t >= lo * (1.0 - 1e-9) && *t <= hi * (1.0 + 1e-9))
        .collect()
}

/// Where a legend entry goes: its row and the x of its swatch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LegendSlot {
    pub x: f64,
    /// The middle of the entry's row.
    pub y: f64,
}

/// The width of a legend swatch and the gap to its label.
pub const SWATCH: f64 = 26.0;
const SWATCH_GAP: f64 = 6.0;
const ENTRY_GAP: f64 = 22.0;

/// Lays legend entries with these labels out left to right from `x0` to `x1`, wrapping to a
/// new row when one would not fit; rows are [`LINE`] apart, the first centred at `y0 + LINE/2`.
/// Returns the slots and the height used.
pub fn legend_layout(labels: &[&str], x0: f64, x1: f64, y0: f64) -> (Vec<LegendSlot>, f64) {
    let mut slots = Vec::with_capacity(labels.len());
    let (mut x, mut row) = (x0, 0usize);
    for label in labels {
        let width = SWATCH + SWATCH_GAP + text_width(label);
        if x > x0 && x + width > x1 {
            x = x0;
            row += 1;
        }
        slots.push(LegendSlot {
            x,
            y: y0 + LINE / 2.0 + row as f64 * LINE,
        });
        x += width + ENTRY_GAP;
    }
    let rows = if labels.is_empty() { 0 } else { row + 1 };
    (slots, rows as f64 * LINE)
}

/// The x of a legend label after its swatch at `slot`.
pub fn legend_label_x(slot: &LegendSlot) -> f64 {
    slot.x + SWATCH + SWATCH_GAP
}

/// Which way a placed label extends from its x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    End,
    Middle,
}

/// A label placed by [`place_labels`]: its baseline position, anchor and box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub anchor: Anchor,
    pub rect: Rect,
}

/// Places one label per point `(x, y, text)`: right of the point, else left, above or below,
/// further out step by step, at the first place whose box stays inside `bounds` and overlaps
/// neither a label placed before nor any of `obstacles` (the marks: dots, bars, whiskers).
/// A label that fits nowhere goes to its first place inside `bounds` (the test of the page
/// then fails, which is the point: add room).
pub fn place_labels(points: &[(f64, f64, &str)], obstacles: &[Rect], bounds: Rect) -> Vec<Placed> {
    let mut placed: Vec<Placed> = Vec::with_capacity(points.len());
    let height = ASCENT + DESCENT;
    for (px, py, text) in points {
        let width = text_width(text);
        let candidate = |dx: f64, dy: f64, anchor: Anchor| {
            let x0 = match anchor {
                Anchor::Start => px + dx,
                Anchor::End => px + dx - width,
                Anchor::Middle => px + dx - width / 2.0,
            };
            // The box of a line of text centred on the point's height (shifted by dy).
            let top = py + dy - height / 2.0;
            Placed {
                x: px + dx,
                y: top + ASCENT,
                anchor,
                rect: Rect::new(x0, top, width, height),
            }
        };
        let mut candidates = Vec::new();
        for step in 0..6 {
            let s = step as f64;
            let (side, lift) = (10.0 + 6.0 * s, LINE * s);
            candidates.push(candidate(side, 0.0, Anchor::Start));
            candidates.push(candidate(-side, 0.0, Anchor::End));
            candidates.push(candidate(0.0, -(LINE + lift), Anchor::Middle));
            candidates.push(candidate(0.0, LINE + lift, Anchor::Middle));
            candidates.push(candidate(side, -(LINE + lift) * 0.8, Anchor::Start));
            candidates.push(candidate(side, (LINE + lift) * 0.8, Anchor::Start));
            candidates.push(candidate(-side, -(LINE + lift) * 0.8, Anchor::End));
            candidates.push(candidate(-side, (LINE + lift) * 0.8, Anchor::End));
        }
        let free = |c: &Placed| {
            c.rect.inside(&bounds)
                && obstacles.iter().all(|o| !c.rect.overlaps(o))
                && placed.iter().all(|p| !c.rect.overlaps(&p.rect))
        };
        let choice = candidates
            .iter()
            .find(|c| free(c))
            .or_else(|| candidates.iter().find(|c| c.rect.inside(&bounds)))
            .copied()
            .unwrap_or(candidates[0]);
        placed.push(choice);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_round_and_cover_the_span() {
        for (span, target, want) in [
            (10.0, 5.0, 2.0),
            (1.0, 4.0, 0.25),
            (7.0, 6.0, 2.0),
            (0.06, 6.0, 0.01),
            (100.0, 4.0, 25.0),
            (3.0, 6.0, 0.5),
        ] {
            assert_eq!(nice_step(span, target), want, "span {span}, {target} ticks");
        }
    }

    #[test]
    fn linear_ticks_include_both_ends() {
        assert_eq!(
            linear_ticks(16.0, 28.0, 2.0),
            vec![16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0]
        );
        let t = linear_ticks(0.0, 0.06, 0.02);
        assert_eq!(t.len(), 4);
        assert!((t[3] - 0.06).abs() < 1e-12);
    }

    #[test]
    fn log_ticks_are_decades_over_a_wide_range() {
        assert_eq!(log_ticks(1e-3, 1e5).len(), 9);
        assert_eq!(log_ticks(0.8, 8.0), vec![1.0, 1.5, 2.0, 3.0, 5.0]);
        assert!(log_ticks(0.0, 1.0).is_empty());
    }

    #[test]
    fn axes_map_their_ends_and_clamp() {
        let f = Frame {
            w: 600.0,
            h: 300.0,
            left: 60.0,
            right: 20.0,
            top: 30.0,
            bottom: BOTTOM,
        };
        let x = f.x_axis(1.0, 100.0, Scale::Log);
        assert_eq!(x.at(1.0), 60.0);
        assert_eq!(x.at(100.0), 580.0);
        assert!((x.at(10.0) - 320.0).abs() < 1e-9);
        assert_eq!(x.at(1e6), 580.0);
        assert_eq!(x.at(0.0), 60.0);
        let y = f.y_axis(0.0, 1.0, Scale::Linear);
        assert_eq!(y.at(0.0), 300.0 - BOTTOM);
        assert_eq!(y.at(1.0), 30.0);
    }

    #[test]
    fn legend_rows_wrap_and_never_overflow() {
        let labels = [
            "zero-filling A*y",
            "FIRENET",
            "cascade-12 (fixed)",
            "cascade-8 (fixed)",
        ];
        let (slots, height) = legend_layout(&labels, 10.0, 400.0, 0.0);
        assert_eq!(slots.len(), 4);
        assert!(
            height >= 2.0 * LINE,
            "four entries need two rows in 390 units"
        );
        for (slot, label) in slots.iter().zip(labels) {
            assert!(
                legend_label_x(slot) + text_width(label) <= 400.0 + 1e-9,
                "{label} overflows"
            );
        }
        // Entries of one row do not overlap.
        for pair in slots.windows(2) {
            if pair[0].y == pair[1].y {
                assert!(pair[1].x > pair[0].x);
            }
        }
        assert_eq!(legend_layout(&[], 0.0, 100.0, 0.0).1, 0.0);
    }

    #[test]
    fn placed_labels_overlap_nothing_when_there_is_room() {
        // Ten points packed in a row with a bar through each: labels must spread out.
        let bounds = Rect::new(0.0, 0.0, 800.0, 400.0);
        let points: Vec<(f64, f64, String)> = (0..10)
            .map(|k| {
                (
                    300.0 + 12.0 * k as f64,
                    200.0 + 4.0 * k as f64,
                    format!("method-{k}"),
                )
            })
            .collect();
        let refs: Vec<(f64, f64, &str)> = points
            .iter()
            .map(|(x, y, t)| (*x, *y, t.as_str()))
            .collect();
        let obstacles: Vec<Rect> = refs
            .iter()
            .flat_map(|(x, y, _)| {
                [
                    Rect::around(*x, *y, 6.0),
                    Rect::new(x - 40.0, y - 1.0, 80.0, 2.0),
                ]
            })
            .collect();
        let placed = place_labels(&refs, &obstacles, bounds);
        for (i, a) in placed.iter().enumerate() {
            assert!(a.rect.inside(&bounds));
            assert!(
                obstacles.iter().all(|o| !a.rect.overlaps(o)),
                "label {i} covers a mark"
            );
            for b in &placed[i + 1..] {
                assert!(!a.rect.overlaps(&b.rect), "two labels overlap");
            }
        }
    }

    #[test]
    fn a_lone_label_goes_right_of_its_point() {
        let placed = place_labels(
            &[(100.0, 100.0, "x")],
            &[],
            Rect::new(0.0, 0.0, 500.0, 500.0),
        );
        assert_eq!(placed[0].anchor, Anchor::Start);
        assert_eq!(placed[0].x, 110.0);
    }
}
