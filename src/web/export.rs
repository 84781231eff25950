//! Putting a figure into slides and course pages: every [`ExportFigure`] has a toolbar with
//! - "PNG": the figure at 2× its size on screen (its canvases, charts and labels), with a caption
//!   of the settings and the deep link below it;
//! - "SVG": the figure's chart as a standalone SVG file (styles inlined), where it has one;
//! - "Data": a `.json` with the page, its settings, the deep link, the model and the numbers on
//!   screen, and a `.npy` per image ([`crate::npy`]): the page's own arrays where it gives them
//!   ([`FigureData`]), else the pixels as drawn (RGBA bytes);
//! - "Copy link" and "Embed code" (an `<iframe>` with `?embed`, a size and its `sandbox`).

use crate::npy;
use crate::route::parse_query;
use js_sys::{Array, Uint8Array};
use serde_json::{json, Map, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, HtmlCanvasElement};
use yew::prelude::*;

/// An array a page exports with its figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Array2 {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// What a page exports with its figure beyond what is on screen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FigureData {
    /// The model or network (its card's name).
    pub model: Option<String>,
    pub arrays: Vec<Array2>,
    /// Numbers the figure shows, by name.
    pub numbers: Map<String, Value>,
}

/// The full address of the lab with the page query `search` and the hash link `link`.
pub fn page_link(search: &str, link: &str) -> String {
    let loc = gloo::utils::window().location();
    let origin = loc.origin().unwrap_or_default();
    let pathname = loc.pathname().unwrap_or_default();
    format!("{origin}{pathname}{search}#{link}")
}

/// The address on screen, and its hash link (without `#`).
fn here() -> (String, String) {
    let href = gloo::utils::window().location().href().unwrap_or_default();
    (href, crate::web::present::location().1)
}

/// The embed code of the page on screen.
pub fn embed_code(title: &str) -> String {
    let (_, hash) = here();
    let src = page_link("?embed", &hash);
    format!(
        "<iframe src=\"{}\" title=\"Barriers Lab: {}\" width=\"960\" height=\"720\" \
         style=\"border:0; max-width:100%\" loading=\"lazy\" \
         sandbox=\"allow-scripts allow-same-origin allow-downloads\" allow=\"fullscreen\"></iframe>",
        src.replace('&', "&amp;").replace('"', "&quot;"),
        title.replace('"', "&quot;")
    )
}

/// The settings of the page on screen, `key = value`, from its hash query.
fn settings() -> Vec<(String, String)> {
    let (_, hash) = here();
    let query = hash.split_once('?').map_or("", |(_, q)| q);
    parse_query(query)
        .into_iter()
        .filter(|(k, _)| k != "embed")
        .collect()
}

/// Downloads `bytes` as `name`.
pub fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), JsValue> {
    let parts = Array::new();
    parts.push(&Uint8Array::from(bytes).buffer());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_buffer_source_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    download_url(name, &url)?;
    web_sys::Url::revoke_object_url(&url)?;
    Ok(())
}

fn download_url(name: &str, url: &str) -> Result<(), JsValue> {
    let doc = gloo::utils::document();
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.dyn_into()?;
    a.set_href(url);
    a.set_download(name);
    a.click();
    Ok(())
}

fn rect_of(e: &Element) -> (f64, f64, f64, f64) {
    let r = e.get_bounding_client_rect();
    (r.left(), r.top(), r.width(), r.height())
}

/// The presentation attributes an exported SVG needs once it is outside the page's CSS.
const SVG_STYLES: &[&str] = &[
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "stroke-opacity",
    "opacity",
    "font-size",
    "font-family",
    "font-weight",
    "text-anchor",
    "dominant-baseline",
    "visibility",
];

/// A standalone copy of `svg`: every element's computed style inlined, its size fixed.
fn standalone_svg(svg: &Element) -> Result<String, JsValue> {
    let window = gloo::utils::window();
    let copy: Element = svg.clone_node_with_deep(true)?.dyn_into()?;
    let originals = svg.query_selector_all("*")?;
    let copies = copy.query_selector_all("*")?;
    let inline = |from: &Element, to: &Element| -> Result<(), JsValue> {
        if let Some(style) = window.get_computed_style(from)? {
            let mut css = String::new();
            for p in SVG_STYLES {
                let v = style.get_property_value(p)?;
                if !v.is_empty() {
                    css.push_str(&format!("{p}:{v};"));
                }
            }
            // Through the CSSOM (`element.style = css`), which the lab's content-security
            // policy allows; a style attribute it refuses.
            js_sys::Reflect::set(to, &"style".into(), &css.into())?;
        }
        Ok(())
    };
    inline(svg, &copy)?;
    for i in 0..originals.length() {
        if let (Some(a), Some(b)) = (originals.item(i), copies.item(i)) {
            if let (Ok(a), Ok(b)) = (a.dyn_into::<Element>(), b.dyn_into::<Element>()) {
                inline(&a, &b)?;
            }
        }
    }
    let (_, _, w, h) = rect_of(svg);
    copy.set_attribute("xmlns", "http://www.w3.org/2000/svg")?;
    copy.set_attribute("width", &format!("{w:.0}"))?;
    copy.set_attribute("height", &format!("{h:.0}"))?;
    web_sys::XmlSerializer::new()?.serialize_to_string(&copy)
}

/// Loads an SVG document as an image (for drawing it onto a canvas).
async fn svg_image(svg: &str) -> Result<web_sys::HtmlImageElement, JsValue> {
    let img = web_sys::HtmlImageElement::new()?;
    let url = format!(
        "data:image/svg+xml;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(svg))
    );
    let loaded = js_sys::Promise::new(&mut |resolve, reject| {
        img.set_onload(Some(&resolve));
        img.set_onerror(Some(&reject));
    });
    img.set_src(&url);
    JsFuture::from(loaded).await?;
    Ok(img)
}

/// Whether `e` lies inside an `<svg>`, a formula (MathML) or the export toolbar.
fn skipped(e: &Element) -> bool {
    ["svg", "math", ".figure-tools"]
        .iter()
        .any(|s| e.closest(s).ok().flatten().is_some())
}

/// The figure as a PNG at `scale`× its size, with the caption lines below.
async fn figure_png(figure: &Element, title: &str, scale: f64) -> Result<Vec<u8>, JsValue> {
    let window = gloo::utils::window();
    let (x0, y0, w, h) = rect_of(figure);
    let (href, _) = here();
    let mut caption = vec![format!("Barriers Lab: {title}")];
    let s = settings();
    if !s.is_empty() {
        caption.push(
            s.iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(" · "),
        );
    }
    caption.push(href);
    let line = 18.0;
    let caption_h = 12.0 + caption.len() as f64 * line;
    let canvas: HtmlCanvasElement = gloo::utils::document()
        .create_element("canvas")?
        .dyn_into()?;
    canvas.set_width((w * scale).ceil() as u32);
    canvas.set_height(((h + caption_h) * scale).ceil() as u32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or("no 2-D context")?
        .dyn_into()?;
    ctx.scale(scale, scale)?;
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h + caption_h);
    let all = figure.query_selector_all("*")?;
    for i in 0..all.length() {
        let Some(e) = all.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let (x, y, ew, eh) = rect_of(&e);
        if ew <= 0.0 || eh <= 0.0 {
            continue;
        }
        let tag = e.tag_name().to_ascii_lowercase();
        if tag == "svg" {
            if e.parent_element()
                .and_then(|p| p.closest("svg").ok().flatten())
                .is_some()
            {
                continue;
            }
            let img = svg_image(&standalone_svg(&e)?).await?;
            ctx.draw_image_with_html_image_element_and_dw_and_dh(&img, x - x0, y - y0, ew, eh)?;
        } else if tag == "canvas" {
            if skipped(&e) {
                continue;
            }
            let c: HtmlCanvasElement = e.dyn_into()?;
            ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&c, x - x0, y - y0, ew, eh)?;
        } else if !skipped(&e) {
            let Some(style) = window.get_computed_style(&e)? else {
                continue;
            };
            if style.get_property_value("visibility")? == "hidden" {
                continue;
            }
            // Bars, chips and marks are boxes with a background colour.
            let background = style.get_property_value("background-color")?;
            if !background.is_empty()
                && !background.ends_with(", 0)")
                && background != "transparent"
            {
                ctx.set_fill_style_str(&background);
                ctx.fill_rect(x - x0, y - y0, ew, eh);
            }
            // The element's own text (not its children's), where the page shows it.
            let nodes = e.child_nodes();
            let mut text = String::new();
            for k in 0..nodes.length() {
                if let Some(n) = nodes.item(k) {
                    if n.node_type() == web_sys::Node::TEXT_NODE {
                        text.push_str(&n.text_content().unwrap_or_default());
                    }
                }
            }
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if text.is_empty() {
                continue;
            }
            let px = |p: &str| -> f64 {
                style
                    .get_property_value(p)
                    .ok()
                    .and_then(|v| v.trim_end_matches("px").parse().ok())
                    .unwrap_or(0.0)
            };
            ctx.set_font(&format!(
                "{} {} {}",
                style.get_property_value("font-weight")?,
                style.get_property_value("font-size")?,
                style.get_property_value("font-family")?
            ));
            ctx.set_fill_style_str(&style.get_property_value("color")?);
            ctx.set_text_baseline("top");
            let left = x - x0 + px("padding-left") + px("border-left-width");
            let top = y - y0 + px("padding-top") + px("border-top-width");
            ctx.fill_text_with_max_width(&text, left, top, (ew - px("padding-left")).max(1.0))?;
        }
    }
    ctx.set_fill_style_str("#14213d");
    ctx.set_text_baseline("top");
    for (k, text) in caption.iter().enumerate() {
        ctx.set_font(if k == 0 {
            "bold 14px sans-serif"
        } else {
            "13px sans-serif"
        });
        ctx.fill_text_with_max_width(text, 8.0, h + 8.0 + k as f64 * line, w - 16.0)?;
    }
    let url = canvas.to_data_url_with_type("image/png")?;
    let b64 = url.split_once(',').map(|(_, b)| b).unwrap_or("");
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

/// The numbers on screen: every element with a `data-testid` and text but no element children.
fn numbers_on_screen(figure: &Element) -> Map<String, Value> {
    let mut out = Map::new();
    if let Ok(all) = figure.query_selector_all("[data-testid]") {
        for i in 0..all.length() {
            let Some(e) = all.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            if e.child_element_count() > 0 || skipped(&e) {
                continue;
            }
            let text = e.text_content().unwrap_or_default().trim().to_string();
            if let Some(id) = e.get_attribute("data-testid") {
                if !text.is_empty() {
                    out.insert(id, Value::String(text));
                }
            }
        }
    }
    out
}

/// The figure's canvases as RGBA bytes `(h, w, 4)`, named by their label.
fn canvas_pixels(figure: &Element) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(all) = figure.query_selector_all("canvas") else {
        return out;
    };
    for i in 0..all.length() {
        let Some(c) = all
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlCanvasElement>().ok())
        else {
            continue;
        };
        let (w, h) = (c.width(), c.height());
        let Ok(Some(ctx)) = c.get_context("2d") else {
            continue;
        };
        let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
            continue;
        };
        let Ok(data) = ctx.get_image_data(0.0, 0.0, w as f64, h as f64) else {
            continue;
        };
        let label = c
            .get_attribute("aria-label")
            .or_else(|| c.get_attribute("data-testid"))
            .unwrap_or_else(|| format!("image {}", i + 1));
        out.push((label, vec![h as usize, w as usize, 4], data.data().0));
    }
    out
}

/// A file-name-safe version of `s`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(40).collect()
}

/// An array's label, shape and `.npy` file.
type NamedNpy = (String, Vec<usize>, Vec<u8>);

/// Downloads the figure's data: the JSON, then one `.npy` per array.
fn download_data(
    figure: &Element,
    name: &str,
    title: &str,
    data: Option<FigureData>,
) -> Result<(), JsValue> {
    let (href, hash) = here();
    let page = hash.split('?').next().unwrap_or("/").to_string();
    let mut files = Vec::new();
    let data = data.unwrap_or_default();
    let (kind, arrays): (&str, Vec<NamedNpy>) = if data.arrays.is_empty() {
        (
            "pixels as drawn (RGBA bytes)",
            canvas_pixels(figure)
                .into_iter()
                .map(|(n, shape, px)| {
                    let bytes = npy::write_u8(&shape, &px).unwrap_or_default();
                    (n, shape, bytes)
                })
                .collect(),
        )
    } else {
        (
            "values (float32)",
            data.arrays
                .iter()
                .map(|a| {
                    let bytes = npy::write_f32(&a.shape, &a.values).unwrap_or_default();
                    (a.name.clone(), a.shape.clone(), bytes)
                })
                .collect(),
        )
    };
    for (k, (label, shape, bytes)) in arrays.iter().enumerate() {
        let file = format!("barriers-lab-{name}-{}-{}.npy", k + 1, slug(label));
        files.push(json!({ "name": label, "shape": shape, "file": file }));
        download(&file, bytes, "application/octet-stream")?;
    }
    let mut numbers = numbers_on_screen(figure);
    numbers.extend(data.numbers);
    let settings: Map<String, Value> = settings()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let doc = json!({
        "lab": "Barriers Lab",
        "figure": name,
        "title": title,
        "page": page,
        "link": href,
        "settings": settings,
        "model": data.model,
        "numbers": numbers,
        "arrays": { "kind": kind, "files": files },
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    download(
        &format!("barriers-lab-{name}.json"),
        text.as_bytes(),
        "application/json",
    )
}

#[derive(Properties, PartialEq)]
pub struct CopyProps {
    pub text: AttrValue,
    pub label: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
}

/// A button that copies `text` (empty: the address on screen, when clicked) to the clipboard and
/// says so (or says to copy it by hand).
#[function_component(CopyButton)]
pub fn copy_button(props: &CopyProps) -> Html {
    let said = use_state(|| None::<&'static str>);
    let onclick = {
        let (text, said) = (props.text.to_string(), said.clone());
        Callback::from(move |_: MouseEvent| {
            let text = if text.is_empty() {
                here().0
            } else {
                text.clone()
            };
            let said = said.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let clipboard = gloo::utils::window().navigator().clipboard();
                let ok = JsFuture::from(clipboard.write_text(&text)).await.is_ok();
                said.set(Some(if ok {
                    "Copied"
                } else {
                    "Select and copy it by hand"
                }));
            });
        })
    };
    html! {
        <>
            <button type="button" class="secondary" onclick={onclick} data-testid={props.testid.clone()}>{props.label.clone()}</button>
            if let Some(s) = *said { <span class="copied small" role="status">{s}</span> }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct FigureProps {
    /// A short name for files (`attacks`, `mri`, …).
    pub name: AttrValue,
    /// The figure's title (caption, embed title).
    pub title: AttrValue,
    #[prop_or_default]
    pub children: Html,
    /// The page's own arrays and numbers, asked for when "Data" is clicked.
    #[prop_or_default]
    pub data: Option<Callback<(), FigureData>>,
    #[prop_or_default]
    pub class: Classes,
}

/// A page's main figure with its export toolbar; presenter mode keeps it at the top.
#[function_component(ExportFigure)]
pub fn export_figure(props: &FigureProps) -> Html {
    let content = use_node_ref();
    let message = use_state(|| None::<String>);
    // The embed code, while shown (made when opened, for the settings on screen then).
    let embed = use_state(|| None::<String>);
    let has_svg = use_state(|| false);
    {
        let (content, has_svg) = (content.clone(), has_svg.clone());
        use_effect(move || {
            let found = content
                .cast::<Element>()
                .and_then(|e| e.query_selector("svg").ok().flatten())
                .is_some();
            if found != *has_svg {
                has_svg.set(found);
            }
        });
    }
    let fail = |message: &UseStateHandle<Option<String>>, what: &str, e: JsValue| {
        let why = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the browser refused".into());
        message.set(Some(format!("Could not save the {what}: {why}.")));
    };
    let png = {
        let (content, message, name, title) = (
            content.clone(),
            message.clone(),
            props.name.clone(),
            props.title.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(el) = content.cast::<Element>() else {
                return;
            };
            let (message, name, title) = (message.clone(), name.clone(), title.clone());
            message.set(Some("Drawing the PNG…".into()));
            wasm_bindgen_futures::spawn_local(async move {
                match figure_png(&el, &title, 2.0).await {
                    Ok(bytes) => {
                        match download(&format!("barriers-lab-{name}.png"), &bytes, "image/png") {
                            Ok(()) => {
                                message.set(Some("Saved the PNG (2×, with its caption).".into()))
                            }
                            Err(e) => fail(&message, "PNG", e),
                        }
                    }
                    Err(e) => fail(&message, "PNG", e),
                }
            });
        })
    };
    let svg = {
        let (content, message, name) = (content.clone(), message.clone(), props.name.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(el) = content.cast::<Element>() else {
                return;
            };
            let Some(svg) = el.query_selector("svg").ok().flatten() else {
                return;
            };
            let saved = standalone_svg(&svg).and_then(|text| {
                download(
                    &format!("barriers-lab-{name}.svg"),
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}").as_bytes(),
                    "image/svg+xml",
                )
            });
            match saved {
                Ok(()) => message.set(Some("Saved the chart as SVG.".into())),
                Err(e) => fail(&message, "SVG", e),
            }
        })
    };
    let data = {
        let (content, message, name, title, data) = (
            content.clone(),
            message.clone(),
            props.name.clone(),
            props.title.clone(),
            props.data.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(el) = content.cast::<Element>() else {
                return;
            };
            let extra = data.as_ref().map(|d| d.emit(()));
            match download_data(&el, &name, &title, extra) {
                Ok(()) => message.set(Some("Saved the data (.json and .npy).".into())),
                Err(e) => fail(&message, "data", e),
            }
        })
    };
    let toggle_embed = {
        let (embed, title) = (embed.clone(), props.title.clone());
        Callback::from(move |_: MouseEvent| {
            embed.set(if embed.is_some() {
                None
            } else {
                Some(embed_code(&title))
            })
        })
    };
    html! {
        <figure class={classes!("figure", props.class.clone())} data-figure={props.name.clone()} tabindex="-1"
            aria-label={props.title.clone()}>
            <div class="figure-content" ref={content}>
                { props.children.clone() }
            </div>
            <div class="figure-tools" role="group" aria-label={format!("Export {}", props.title)}>
                <button type="button" class="secondary" onclick={png} data-testid="export-png"
                    title="The figure at 2× with its settings and link">{"PNG"}</button>
                if *has_svg {
                    <button type="button" class="secondary" onclick={svg} data-testid="export-svg"
                        title="The chart as a vector file">{"SVG"}</button>
                }
                <button type="button" class="secondary" onclick={data} data-testid="export-data"
                    title="Settings and numbers (.json), images (.npy)">{"Data"}</button>
                <CopyButton text="" label="Copy link" testid="copy-link" />
                <button type="button" class="secondary" onclick={toggle_embed} aria-expanded={embed.is_some().to_string()}
                    data-testid="embed-toggle">{"Embed"}</button>
                if let Some(m) = &*message { <span class="small muted" role="status" data-testid="export-status">{m.clone()}</span> }
                if let Some(code) = (*embed).clone() {
                    <div class="embed-code">
                        <label>
                            <span class="small">{"Paste into a course page (static hosting is enough):"}</span>
                            <textarea readonly=true rows="3" value={code.clone()} data-testid="embed-code" />
                        </label>
                        <CopyButton text={code} label="Copy embed code" testid="copy-embed" />
                    </div>
                }
            </div>
        </figure>
    }
}
