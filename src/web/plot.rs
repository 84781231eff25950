//! The lab's charts in SVG, drawn with the geometry of [`crate::plot`]: ticks with grid lines,
//! axis titles and a legend above the data, with the classes the stylesheet sizes for a
//! projector and the plots' end-to-end test checks (`y-tick`, `x-tick`, `axis-title`, `legend`).
//! Hand-drawn: a few lines and dots per chart do not justify a plotting crate in the bundle.

use crate::plot::{legend_label_x, legend_layout, Anchor, Axis, Frame, LegendSlot, LINE, SWATCH};
use yew::prelude::*;

/// Horizontal grid lines at `ticks` with their labels left of the data area.
pub fn y_ticks(frame: &Frame, axis: &Axis, ticks: &[f64], label: impl Fn(f64) -> String) -> Html {
    let (x0, x1) = (frame.left, frame.w - frame.right);
    html! { <>{ for ticks.iter().map(|v| {
        let y = axis.at(*v);
        html! { <g class="grid y-tick">
            <line x1={x0.to_string()} x2={x1.to_string()} y1={y.to_string()} y2={y.to_string()} />
            <text x={(x0 - 6.0).to_string()} y={(y + 5.0).to_string()} text-anchor="end">{label(*v)}</text>
        </g> }
    }) }</> }
}

/// Tick marks and labels under the data area at `ticks`, with vertical grid lines if `grid`.
pub fn x_ticks(
    frame: &Frame,
    axis: &Axis,
    ticks: &[f64],
    label: impl Fn(f64) -> String,
    grid: bool,
) -> Html {
    let (y0, y1) = (frame.top, frame.h - frame.bottom);
    let baseline = frame.x_tick_baseline();
    html! { <>{ for ticks.iter().map(|v| {
        let x = axis.at(*v);
        html! { <g class={classes!("x-tick", grid.then_some("grid"))}>
            if grid {
                <line x1={x.to_string()} x2={x.to_string()} y1={y0.to_string()} y2={y1.to_string()} />
            }
            <line class="axis" x1={x.to_string()} x2={x.to_string()} y1={y1.to_string()} y2={(y1 + 5.0).to_string()} />
            <text x={x.to_string()} y={baseline.to_string()} text-anchor="middle">{label(*v)}</text>
        </g> }
    }) }</> }
}

/// The x axis's line along the bottom of the data area.
pub fn x_axis_line(frame: &Frame) -> Html {
    let y = (frame.h - frame.bottom).to_string();
    html! {
        <line class="axis" x1={frame.left.to_string()} x2={(frame.w - frame.right).to_string()} y1={y.clone()} y2={y} />
    }
}

/// The x-axis title, centred under the tick labels.
pub fn x_title(frame: &Frame, text: impl Into<String>) -> Html {
    html! {
        <text class="axis-title x-title" x={((frame.left + frame.w - frame.right) / 2.0).to_string()}
            y={frame.x_title_baseline().to_string()} text-anchor="middle">{text.into()}</text>
    }
}

/// The y-axis title, rotated, centred left of the tick labels.
pub fn y_title(frame: &Frame, text: impl Into<String>) -> Html {
    let (x, y) = (
        frame.y_title_x(),
        (frame.top + frame.h - frame.bottom) / 2.0,
    );
    html! {
        <text class="axis-title y-title" x={x.to_string()} y={y.to_string()} text-anchor="middle"
            dominant-baseline="central" transform={format!("rotate(-90 {x} {y})")}>{text.into()}</text>
    }
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swatch {
    /// A stroke (styled like the series' `line`).
    Line,
    /// A dot.
    Dot,
    /// A stroke with a dot on it.
    LineDot,
    /// A diamond.
    Diamond,
    /// A filled box (bars).
    Bar,
}

/// One legend entry: the series' classes (so that the stylesheet colours it like the series),
/// its label and its swatch.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendItem {
    pub class: String,
    pub label: String,
    pub swatch: Swatch,
}

impl LegendItem {
    pub fn new(class: impl Into<String>, label: impl Into<String>, swatch: Swatch) -> Self {
        LegendItem {
            class: class.into(),
            label: label.into(),
            swatch,
        }
    }
}

/// A frame whose top margin holds the legend of `items` in rows above the data area: `data`
/// is the data area's height; the legend spans the plot's width from `left` to `w − right`.
pub fn frame_with_legend(
    w: f64,
    data: f64,
    (left, right, bottom): (f64, f64, f64),
    items: &[LegendItem],
) -> (Frame, Vec<LegendSlot>) {
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    let (slots, height) = legend_layout(&labels, left, w - right, 6.0);
    let top = 6.0 + height + LINE / 2.0;
    let frame = Frame {
        w,
        h: top + data + bottom,
        left,
        right,
        top,
        bottom,
    };
    (frame, slots)
}

/// The legend of `items` at the slots [`frame_with_legend`] laid out.
pub fn legend(items: &[LegendItem], slots: &[LegendSlot]) -> Html {
    html! {
        <g class="legend" data-testid="plot-legend">
            { for items.iter().zip(slots).map(|(item, slot)| {
                let (x0, y) = (slot.x, slot.y);
                let mid = x0 + SWATCH / 2.0;
                let swatch = match item.swatch {
                    Swatch::Line => html! {
                        <line x1={x0.to_string()} x2={(x0 + SWATCH).to_string()} y1={y.to_string()} y2={y.to_string()} />
                    },
                    Swatch::Dot => html! { <circle class="dot" cx={mid.to_string()} cy={y.to_string()} r="5" /> },
                    Swatch::LineDot => html! { <>
                        <line x1={x0.to_string()} x2={(x0 + SWATCH).to_string()} y1={y.to_string()} y2={y.to_string()} />
                        <circle class="dot" cx={mid.to_string()} cy={y.to_string()} r="4" />
                    </> },
                    Swatch::Diamond => html! {
                        <rect x={(mid - 5.0).to_string()} y={(y - 5.0).to_string()} width="10" height="10"
                            transform={format!("rotate(45 {mid} {y})")} />
                    },
                    Swatch::Bar => html! {
                        <rect x={(x0 + 3.0).to_string()} y={(y - 7.0).to_string()} width={(SWATCH - 6.0).to_string()} height="14" />
                    },
                };
                html! { <g class={classes!("legend-item", item.class.clone())}>
                    {swatch}
                    <text x={legend_label_x(slot).to_string()} y={(y + 5.0).to_string()}>{item.label.clone()}</text>
                </g> }
            }) }
        </g>
    }
}

/// The SVG `text-anchor` of a placed label.
pub fn anchor(a: Anchor) -> &'static str {
    match a {
        Anchor::Start => "start",
        Anchor::End => "end",
        Anchor::Middle => "middle",
    }
}
