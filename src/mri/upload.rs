//! Turning a user's uploaded picture into a working image for the MRI experiments.
//!
//! The lab works on square `N × N` grey images (`N` = 128 or 256) with intensities in [0, 1],
//! row-major, index `y·N + x`. An upload may be any PNG or JPEG: any size, grey or colour, 8 or 16
//! bits per channel, with or without alpha. [`prepare_upload`] turns it into such an image:
//!
//! 1. **Check before decoding.** Files over [`MAX_UPLOAD_BYTES`] are refused unread; then only
//!    the header is read: empty files, formats other than PNG and JPEG, images over
//!    [`MAX_PIXELS`] or with a side over [`MAX_UPLOAD_SIDE`] (a decompression bomb: a few bytes
//!    whose header claims 65535 × 65535) and images with a side under [`MIN_SIDE`] are refused
//!    before any pixel buffer is allocated, with the limit in the message. The decoder also runs
//!    under [`image::Limits`] (the same sides, and [`MAX_DECODER_ALLOC`]).
//! 2. **Decode to grey, in `f32`.** Each channel is scaled to [0, 1] by its type's maximum
//!    (255 or 65535), so 16-bit files keep their precision. Colour becomes luma
//!    `Y′ = 0.2126 R′ + 0.7152 G′ + 0.0722 B′` (Rec. 709 / sRGB weights on the stored, gamma-encoded
//!    values, as the `image` crate does). Alpha is composited onto black (`v = Y′·α`), so
//!    transparent regions become background. An EXIF orientation (photos from phones) is applied,
//!    so the image is used the way it is shown.
//! 3. **Centre-crop to a square** of side `S = min(width, height)`: the image is *cropped, not
//!    stretched*, so anatomy keeps its proportions; `⌊(width − S)/2⌋` columns (or rows) go on the
//!    left (top), the rest on the right (bottom).
//! 4. **Resample to `N × N`** with a Lanczos-3 filter (`image::imageops`, separable, support
//!    scaled with the reduction factor, so downscaling is anti-aliased). The crop is first mapped
//!    to [0, 1] by its minimum and maximum; Lanczos overshoot at sharp edges is clipped to [0, 1].
//! 5. **Rescale to [0, 1]** by the minimum and maximum, `v ← (v − min)/(max − min)`, so the
//!    result spans exactly [0, 1]. A constant image has no contrast to keep and becomes all zeros,
//!    with a warning.
//!
//! The result, [`PreparedImage`], carries human-readable notes (what was done) and warnings
//! (what the user may want to know: enlarged, heavily cropped, constant) for the page to show.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{ColorType, ImageBuffer, ImageDecoder, ImageError, ImageFormat, ImageReader, Luma};

use crate::{Error, Result};

/// The formats accepted, as said to the user.
pub const ACCEPTED_FORMATS: &str = "PNG or JPEG";
/// The smallest accepted side of an upload, in pixels.
pub const MIN_SIDE: u32 = 8;
/// The largest accepted upload, in pixels (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The longest accepted side of an upload, in pixels (a phone's photo is under 10 000; a
/// header claiming more is refused before decoding).
pub const MAX_UPLOAD_SIDE: u32 = 16_384;
/// The largest accepted upload file, in bytes (25 MiB, as the MRI page's file picker says).
pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// The largest working side [`prepare_upload`] and [`prepare_luma`] produce.
pub const MAX_WORKING_SIDE: usize = 4096;
/// Memory the decoder may allocate (a 40-megapixel 16-bit RGBA image is 320 MB).
pub const MAX_DECODER_ALLOC: u64 = 512 * 1024 * 1024;
/// Resized images whose range is below this are treated as constant.
const MIN_RANGE: f32 = 1e-6;
/// Luma weights (Rec. 709 / sRGB), as in the `image` crate.
const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// An upload made ready for the experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImage {
    /// `n × n` row-major grey image, index `y·n + x`, intensities in [0, 1].
    pub image: Vec<f32>,
    /// The working side.
    pub n: usize,
    /// Width of the picture as shown (after any EXIF orientation), before cropping.
    pub source_width: usize,
    /// Height of the picture as shown (after any EXIF orientation), before cropping.
    pub source_height: usize,
    /// What was done, one sentence each, for the page to show.
    pub notes: Vec<String>,
    /// What the user should know about the result (enlarged, heavily cropped, constant, ...).
    pub warnings: Vec<String>,
}

/// Decodes an uploaded PNG or JPEG file and prepares it as an `n × n` grey image in [0, 1]
/// (see the [module documentation](self) for each step).
///
/// # Errors
/// [`Error::Input`], with a message meant for the user, if the file is empty or over
/// [`MAX_UPLOAD_BYTES`], is not a PNG or JPEG, cannot be decoded (damaged or truncated), has more
/// than [`MAX_PIXELS`] pixels, a side over [`MAX_UPLOAD_SIDE`] or under [`MIN_SIDE`], or if `n`
/// is outside `MIN_SIDE..=MAX_WORKING_SIDE`.
pub fn prepare_upload(bytes: &[u8], n: usize) -> Result<PreparedImage> {
    check_working_side(n)?;
    if bytes.is_empty() {
        return Err(input(format!(
            "The file is empty. Please choose a {ACCEPTED_FORMATS} image."
        )));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(input(format!(
            "The file is too large ({:.1} MB); the limit is {} MB. Please choose a smaller \
             image.",
            bytes.len() as f64 / 1048576.0,
            MAX_UPLOAD_BYTES >> 20
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| input(format!("The file could not be read: {e}.")))?;
    let format = match reader.format() {
        Some(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
        Some(other) => {
            let name = other
                .extensions_str()
                .first()
                .map_or_else(|| format!("{other:?}"), |e| e.to_uppercase());
            return Err(input(format!(
                "This is a {name} file; only {ACCEPTED_FORMATS} images are accepted. \
                 Please convert it to PNG or JPEG first."
            )));
        }
        None => {
            return Err(input(format!(
                "This file is not a {ACCEPTED_FORMATS} image (its format was not recognised). \
                 Please choose a PNG or JPEG file."
            )))
        }
    };
    let format_name = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    reader.limits(decoder_limits(true));

    // Reads the header only (and refuses sides over the limit).
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        ImageError::Limits(_) => header_dimensions(bytes)
            .and_then(|(w, h)| check_dimensions(w, h).err())
            .unwrap_or_else(|| decode_error(format_name, &e)),
        e => decode_error(format_name, &e),
    })?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels_in(format, bytes.len()) {
        return Err(input(format!(
            "This {format_name} file is damaged or truncated: its header claims {width}×{height} \
             pixels, which {} bytes cannot hold (a {format_name} image that size takes at least \
             {} bytes). Please choose another file.",
            bytes.len(),
            pixels.div_ceil(max_pixels_in(format, 1))
        )));
    }
    let color = decoder.color_type();
    // A broken EXIF block is not worth refusing the picture for: use it as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);

    let total = usize::try_from(decoder.total_bytes())
        .map_err(|_| input("The image is too large to decode here.".to_string()))?;
    let mut raw = vec![0u8; total];
    decoder
        .read_image(&mut raw)
        .map_err(|e| decode_error(format_name, &e))?;

    let (luma, transparent) = to_luma(&raw, color)?;
    drop(raw);
    let (w, h, luma) = orient(width, height, luma, orientation);

    let mut notes = vec![format!(
        "Read a {format_name} image of {width}×{height} pixels ({}).",
        describe(color)
    )];
    if color.has_color() {
        notes.push(
            "Colour converted to grey (luma Y′ = 0.2126 R′ + 0.7152 G′ + 0.0722 B′).".to_string(),
        );
    }
    if transparent {
        notes.push("Transparent pixels were composited onto black.".to_string());
    }
    if orientation != image::metadata::Orientation::NoTransforms {
        notes.push(format!(
            "{} as its EXIF orientation says, to {w}×{h}.",
            describe_orientation(orientation)
        ));
    }
    let mut prepared = prepare_luma(w, h, &luma, n)?;
    notes.append(&mut prepared.notes);
    prepared.notes = notes;
    if format == ImageFormat::Jpeg && !ends_with_eoi(bytes) {
        // The decoder fills what the file does not hold with grey: never silently.
        prepared.warnings.insert(0, TRUNCATED_JPEG.to_string());
    }
    Ok(prepared)
}

/// What the page says of a JPEG file that stops before its end-of-image marker.
pub const TRUNCATED_JPEG: &str = "This JPEG file ended early (it has no end-of-image marker): \
    everything below where the file stops is grey filler, not your picture. Save it again or \
    choose another file.";

/// Whether JPEG data ends with its end-of-image marker `FF D9` (trailing zero bytes, which some
/// writers pad with, are allowed).
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Prepares an already-decoded grey image (`width × height`, row-major, any finite values) as an
/// `n × n` image in [0, 1]: centre crop to a square, Lanczos-3 resampling, min/max rescaling
/// (steps 3 to 5 of the [module documentation](self)). The values may have any finite range
/// (only their minimum and maximum matter). This is also the entry point for pixels decoded
/// elsewhere (e.g. by the browser).
///
/// # Errors
/// [`Error::Input`] if `luma.len() != width·height`, a value is not finite, the image has a side
/// under [`MIN_SIDE`] or more than [`MAX_PIXELS`] pixels, or `n` is outside
/// `MIN_SIDE..=MAX_WORKING_SIDE`.
pub fn prepare_luma(width: usize, height: usize, luma: &[f32], n: usize) -> Result<PreparedImage> {
    check_working_side(n)?;
    let (w32, h32) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(too_large(width as u64, height as u64)),
    };
    check_dimensions(w32, h32)?;
    if luma.len() != width * height {
        return Err(input(format!(
            "{} pixel values were given for a {width}×{height} image.",
            luma.len()
        )));
    }
    if luma.iter().any(|v| !v.is_finite()) {
        return Err(input(
            "The image contains values that are not finite numbers (NaN or infinity).".to_string(),
        ));
    }

    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    // Centre crop.
    let side = width.min(height);
    let (x0, y0) = ((width - side) / 2, (height - side) / 2);
    let mut square = Vec::with_capacity(side * side);
    for y in y0..y0 + side {
        square.extend_from_slice(&luma[y * width + x0..y * width + x0 + side]);
    }
    if width != height {
        let (what, removed, cut) = if width > height {
            ("columns", width - side, x0)
        } else {
            ("rows", height - side, y0)
        };
        notes.push(format!(
            "Centre-cropped (not stretched) to {side}×{side}: {removed} {what} removed \
             ({cut} on one side, {} on the other).",
            removed - cut
        ));
        if 2 * side < width.max(height) {
            warnings.push(format!(
                "The picture is much wider or taller than square: the crop kept only the central \
                 {side}×{side} part of {width}×{height}."
            ));
        }
    }
    // Normalise the crop to [0, 1] first: the resampler works in [0, 1] (it clips to it).
    let (lo, hi) = min_max(&square);
    if hi - lo <= 0.0 {
        warnings.push(format!(
            "The image is constant (every pixel is {lo:.4}): there is no contrast to keep, so it \
             became all zeros."
        ));
        return Ok(PreparedImage {
            image: vec![0.0; n * n],
            n,
            source_width: width,
            source_height: height,
            notes,
            warnings,
        });
    }
    let scale = 1.0 / (hi - lo);
    square.iter_mut().for_each(|v| *v = (*v - lo) * scale);

    // Resample; Lanczos overshoot at sharp edges is clipped to [0, 1].
    let mut out = if side == n {
        square
    } else {
        let buffer: ImageBuffer<Luma<f32>, Vec<f32>> =
            ImageBuffer::from_raw(side as u32, side as u32, square)
                .expect("the crop holds side² values");
        let resized = imageops::resize(&buffer, n as u32, n as u32, FilterType::Lanczos3);
        let verb = if side > n { "Downscaled" } else { "Enlarged" };
        notes.push(format!(
            "{verb} from {side}×{side} to {n}×{n} (Lanczos-3 filter)."
        ));
        if side < n {
            warnings.push(format!(
                "The picture is smaller than the working size ({side} px < {n} px): enlarging \
                 it adds no detail, so it will look soft."
            ));
        }
        resized.into_raw()
    };

    // Rescale: resampling may leave the extremes slightly inside [0, 1].
    let (rlo, rhi) = min_max(&out);
    let range = rhi.clamp(0.0, 1.0) - rlo.clamp(0.0, 1.0);
    if range < MIN_RANGE {
        out.iter_mut().for_each(|v| *v = 0.0);
        warnings.push(
            "After resizing, the image has no contrast left, so it became all zeros.".to_string(),
        );
    } else {
        let (rlo, scale) = (rlo.clamp(0.0, 1.0), 1.0 / range);
        for v in &mut out {
            *v = ((*v - rlo) * scale).clamp(0.0, 1.0);
        }
        notes.push(format!(
            "Intensities rescaled from [{lo:.4}, {hi:.4}] to [0, 1] (minimum to 0, maximum to 1)."
        ));
    }

    Ok(PreparedImage {
        image: out,
        n,
        source_width: width,
        source_height: height,
        notes,
        warnings,
    })
}

fn input(message: String) -> Error {
    Error::Input(message)
}

fn too_large(width: u64, height: u64) -> Error {
    let pixels = width.saturating_mul(height);
    input(format!(
        "The image is too large ({width}×{height} pixels, {:.1} megapixels); the limits are {} \
         megapixels and {MAX_UPLOAD_SIDE} pixels a side. Please scale it down first.",
        pixels as f64 / 1e6,
        MAX_PIXELS / 1_000_000
    ))
}

/// The decoder's limits: [`MAX_DECODER_ALLOC`], and with `sides` [`MAX_UPLOAD_SIDE`] a side.
fn decoder_limits(sides: bool) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    if sides {
        limits.max_image_width = Some(MAX_UPLOAD_SIDE);
        limits.max_image_height = Some(MAX_UPLOAD_SIDE);
    }
    limits
}

/// The size a file's header claims, read without the side limits (for the message that
/// refuses it). A PNG's is read straight from its IHDR chunk: on 32-bit targets (wasm32) the
/// decoder refuses to open a PNG whose pixels would not fit in memory at all (65535 × 65535)
/// before it tells anyone its size.
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if let Some(size) = png_dimensions(bytes) {
        return Some(size);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    reader.limits(decoder_limits(false));
    reader.into_dimensions().ok()
}

/// Width and height from a PNG's IHDR chunk, which must come first: the 8-byte signature, the
/// chunk's length and type (`IHDR`), then the width and height, big-endian (PNG specification,
/// 11.2.2). `None` if `bytes` does not start that way.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    if bytes.len() < 24 || bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((be(16), be(20)))
}

/// The most pixels a file of `len` bytes can hold in `format`, whatever its content: deflate
/// expands at most 1032:1 (a length-258 match in under 2 bits) and a PNG pixel takes at least
/// one bit (8 pixels a byte), so a PNG holds at most `8 · 1032 · len` pixels; a JPEG codes at
/// least one bit for each 8 × 8 block (its DC difference, even in a progressive scan), so at
/// most `512 · len`. A header that claims more belongs to a damaged or truncated file (or a
/// decompression bomb): it is refused before the pixel buffer is allocated.
pub fn max_pixels_in(format: ImageFormat, len: usize) -> u64 {
    let per_byte = if format == ImageFormat::Png {
        8 * 1032
    } else {
        512
    };
    per_byte * len as u64
}

fn check_working_side(n: usize) -> Result<()> {
    if !(MIN_SIDE as usize..=MAX_WORKING_SIDE).contains(&n) {
        return Err(input(format!(
            "The working size must be between {MIN_SIDE} and {MAX_WORKING_SIDE} pixels, not {n}."
        )));
    }
    Ok(())
}

fn check_dimensions(width: u32, height: u32) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS || width.max(height) > MAX_UPLOAD_SIDE {
        return Err(too_large(width.into(), height.into()));
    }
    if width.min(height) < MIN_SIDE {
        return Err(input(format!(
            "The image is too small ({width}×{height} pixels); each side must be at least \
             {MIN_SIDE} pixels."
        )));
    }
    Ok(())
}

fn decode_error(format: &str, error: &ImageError) -> Error {
    match error {
        ImageError::Limits(_) => input(format!(
            "The image is too large to decode here (the limits are {} megapixels, \
             {MAX_UPLOAD_SIDE} pixels a side and {} MB of memory).",
            MAX_PIXELS / 1_000_000,
            MAX_DECODER_ALLOC >> 20
        )),
        ImageError::Unsupported(e) => input(format!(
            "This {format} file uses a feature that cannot be read here ({e}). \
             Please save it again as an ordinary {ACCEPTED_FORMATS} image."
        )),
        e => input(format!(
            "The {format} file could not be decoded; it may be damaged or incomplete ({e})."
        )),
    }
}

fn describe(color: ColorType) -> String {
    let kind = match (color.has_color(), color.has_alpha()) {
        (false, false) => "grey",
        (false, true) => "grey with alpha",
        (true, false) => "colour",
        (true, true) => "colour with alpha",
    };
    let bits = color.bits_per_pixel() / u16::from(color.channel_count());
    format!("{kind}, {bits} bits per channel")
}

fn describe_orientation(orientation: image::metadata::Orientation) -> &'static str {
    use image::metadata::Orientation as O;
    match orientation {
        O::NoTransforms => "Kept",
        O::Rotate90 => "Rotated 90° clockwise",
        O::Rotate180 => "Rotated 180°",
        O::Rotate270 => "Rotated 90° anticlockwise",
        O::FlipHorizontal => "Mirrored left–right",
        O::FlipVertical => "Mirrored top–bottom",
        O::Rotate90FlipH => "Rotated 90° clockwise and mirrored",
        O::Rotate270FlipH => "Rotated 90° anticlockwise and mirrored",
    }
}

/// Minimum and maximum of a non-empty slice.
fn min_max(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Grey values in [0, 1] from a decoder's native-endian buffer, and whether any pixel is not
/// fully opaque.
fn to_luma(raw: &[u8], color: ColorType) -> Result<(Vec<f32>, bool)> {
    let channels = usize::from(color.channel_count());
    let bytes = usize::from(color.bytes_per_pixel()) / channels;
    let colour = color.has_color();
    let alpha = color.has_alpha();
    // One monomorphised loop per sample type (8-bit, 16-bit, float).
    Ok(match (color, bytes) {
        (_, 1) => luma_of::<1>(raw, channels, colour, alpha, |b| f32::from(b[0]) / 255.0),
        (_, 2) => luma_of::<2>(raw, channels, colour, alpha, |b| {
            f32::from(u16::from_ne_bytes(b)) / 65535.0
        }),
        (ColorType::Rgb32F | ColorType::Rgba32F, 4) => {
            luma_of::<4>(raw, channels, colour, alpha, f32::from_ne_bytes)
        }
        _ => {
            return Err(input(format!(
                "This image's pixel format ({color:?}) is not supported. Please save it as an \
                 ordinary 8- or 16-bit {ACCEPTED_FORMATS} image."
            )))
        }
    })
}

/// [`to_luma`] for samples of `B` bytes, read by `read`.
fn luma_of<const B: usize>(
    raw: &[u8],
    channels: usize,
    colour: bool,
    alpha: bool,
    read: impl Fn([u8; B]) -> f32,
) -> (Vec<f32>, bool) {
    let mut transparent = false;
    let luma = raw
        .chunks_exact(channels * B)
        .map(|pixel| {
            let c = |i: usize| read(pixel[i * B..(i + 1) * B].try_into().expect("B bytes"));
            let grey = if colour {
                LUMA[0] * c(0) + LUMA[1] * c(1) + LUMA[2] * c(2)
            } else {
                c(0)
            };
            if alpha {
                let a = c(channels - 1);
                transparent |= a < 1.0;
                grey * a
            } else {
                grey
            }
        })
        .collect();
    (luma, transparent)
}

/// Applies an EXIF orientation to a `width × height` grey image; returns the new size and values.
fn orient(
    width: u32,
    height: u32,
    luma: Vec<f32>,
    orientation: image::metadata::Orientation,
) -> (usize, usize, Vec<f32>) {
    use image::metadata::Orientation as O;
    let buffer: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(width, height, luma).expect("one value per pixel");
    let buffer = match orientation {
        O::NoTransforms => buffer,
        O::Rotate90 => imageops::rotate90(&buffer),
        O::Rotate180 => imageops::rotate180(&buffer),
        O::Rotate270 => imageops::rotate270(&buffer),
        O::FlipHorizontal => imageops::flip_horizontal(&buffer),
        O::FlipVertical => imageops::flip_vertical(&buffer),
        O::Rotate90FlipH => imageops::flip_horizontal(&imageops::rotate90(&buffer)),
        O::Rotate270FlipH => imageops::flip_horizontal(&imageops::rotate270(&buffer)),
    };
    let (w, h) = buffer.dimensions();
    (w as usize, h as usize, buffer.into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType, ImageEncoder};

    fn png(width: u32, height: u32, color: ExtendedColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(data, width, height, color)
            .unwrap();
        out
    }

    fn jpeg(width: u32, height: u32, rgb: &[u8], exif: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut out, 92);
        if let Some(exif) = exif {
            encoder.set_exif_metadata(exif).unwrap();
        }
        encoder
            .write_image(rgb, width, height, ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// `width × height` pixels, `dark` left of the middle column, `bright` from it on.
    fn halves<T: Copy>(width: u32, height: u32, dark: T, bright: T) -> Vec<T> {
        (0..height)
            .flat_map(|_| (0..width).map(move |x| if x < width / 2 { dark } else { bright }))
            .collect()
    }

    /// Mean over rows `ys` and columns `xs` of an `n × n` image.
    fn mean(img: &[f32], n: usize, ys: std::ops::Range<usize>, xs: std::ops::Range<usize>) -> f32 {
        let count = ys.len() * xs.len();
        let sum: f32 = ys
            .flat_map(|y| xs.clone().map(move |x| img[y * n + x]))
            .sum();
        sum / count as f32
    }

    fn assert_unit_range(p: &PreparedImage) {
        assert_eq!(p.image.len(), p.n * p.n);
        assert!(p.image.iter().all(|v| (0.0..=1.0).contains(v)));
        let (lo, hi) = min_max(&p.image);
        assert_eq!((lo, hi), (0.0, 1.0));
    }

    fn error_message(result: Result<PreparedImage>) -> String {
        match result {
            Err(Error::Input(message)) => message,
            Err(other) => panic!("expected Error::Input, got {other:?}"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn grey_8_bit_png_keeps_its_pattern_after_crop_and_downscale() {
        let file = png(
            300,
            200,
            ExtendedColorType::L8,
            &halves(300, 200, 20u8, 200),
        );
        let p = prepare_upload(&file, 128).unwrap();
        assert_eq!(p.n, 128);
        assert_eq!((p.source_width, p.source_height), (300, 200));
        assert_unit_range(&p);
        // The crop keeps columns 50..250, so the edge (x = 150) lands in the middle.
        assert!(mean(&p.image, 128, 0..128, 0..56) < 0.01);
        assert!(mean(&p.image, 128, 0..128, 72..128) > 0.99);
        let notes = p.notes.join(" ");
        assert!(
            notes.contains("PNG") && notes.contains("300×200"),
            "{notes}"
        );
        assert!(notes.contains("Centre-cropped"), "{notes}");
        assert!(
            notes.contains("Downscaled from 200×200 to 128×128"),
            "{notes}"
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn grey_16_bit_png_keeps_its_precision() {
        // The halves differ by 1/65535: invisible in 8 bits, full contrast after rescaling.
        let values = halves(64, 64, 30000u16, 30001);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let file = png(64, 64, ExtendedColorType::L16, &bytes);
        let p = prepare_upload(&file, 32).unwrap();
        assert_unit_range(&p);
        assert!(mean(&p.image, 32, 0..32, 0..12) < 0.01);
        assert!(mean(&p.image, 32, 0..32, 20..32) > 0.99);
        assert!(p.notes[0].contains("16 bits per channel"), "{:?}", p.notes);
    }

    #[test]
    fn rgb_png_becomes_luma() {
        // Red, green and blue stripes, 16 columns each; no resizing (n = 48).
        let rgb: Vec<u8> = (0..48 * 48)
            .flat_map(|i| match (i % 48) / 16 {
                0 => [255, 0, 0],
                1 => [0, 255, 0],
                _ => [0, 0, 255],
            })
            .collect();
        let p = prepare_upload(&png(48, 48, ExtendedColorType::Rgb8, &rgb), 48).unwrap();
        assert_unit_range(&p);
        let (b, g) = (LUMA[2], LUMA[1]);
        let red = (LUMA[0] - b) / (g - b);
        assert!((p.image[10 * 48 + 8] - red).abs() < 1e-6);
        assert_eq!(p.image[10 * 48 + 24], 1.0);
        assert_eq!(p.image[10 * 48 + 40], 0.0);
        assert!(p.notes.iter().any(|s| s.contains("Colour converted")));
    }

    #[test]
    fn rgba_png_is_composited_onto_black() {
        // White everywhere; opaque on the left half, transparent on the right, half-transparent
        // in rows 0..8.
        let rgba: Vec<u8> = (0..32 * 32)
            .flat_map(|i| {
                let alpha = if i / 32 < 8 {
                    128
                } else if i % 32 < 16 {
                    255
                } else {
                    0
                };
                [255, 255, 255, alpha]
            })
            .collect();
        let p = prepare_upload(&png(32, 32, ExtendedColorType::Rgba8, &rgba), 32).unwrap();
        assert_unit_range(&p);
        assert_eq!(p.image[20 * 32 + 4], 1.0);
        assert_eq!(p.image[20 * 32 + 28], 0.0);
        assert!((p.image[2 * 32 + 4] - 128.0 / 255.0).abs() < 1e-6);
        assert!(p.notes.iter().any(|s| s.contains("composited onto black")));
    }

    #[test]
    fn a_truncated_jpeg_is_shown_with_a_warning_never_silently() {
        let rgb: Vec<u8> = (0..128 * 128 * 3).map(|i| (i % 251) as u8).collect();
        let whole = jpeg(128, 128, &rgb, None);
        let full = prepare_upload(&whole, 64).unwrap();
        assert!(
            !full.warnings.iter().any(|w| w == TRUNCATED_JPEG),
            "{:?}",
            full.warnings
        );
        let mut padded = whole.clone();
        padded.extend([0, 0, 0]);
        assert!(!prepare_upload(&padded, 64)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w == TRUNCATED_JPEG));
        let cut = &whole[..whole.len() * 6 / 10];
        match prepare_upload(cut, 64) {
            Ok(p) => assert_eq!(p.warnings.first().map(String::as_str), Some(TRUNCATED_JPEG)),
            // A decoder may refuse instead; that is never silent either.
            Err(e) => assert!(e.to_string().contains("damaged or incomplete"), "{e}"),
        }
    }

    #[test]
    fn jpeg_keeps_its_pattern() {
        let rgb: Vec<u8> = halves(256, 256, [30u8, 30, 30], [220, 220, 220]).concat();
        let p = prepare_upload(&jpeg(256, 256, &rgb, None), 128).unwrap();
        assert_unit_range(&p);
        assert!(mean(&p.image, 128, 0..128, 0..56) < 0.03);
        assert!(mean(&p.image, 128, 0..128, 72..128) > 0.97);
        assert!(p.notes[0].contains("JPEG"), "{:?}", p.notes);
    }

    #[test]
    fn jpeg_exif_orientation_is_applied() {
        // Stored 32×16, dark left and bright right, with EXIF orientation 6 (rotate 90°
        // clockwise): shown 16×32 with the dark half on top.
        let mut exif = b"II*\0".to_vec();
        exif.extend_from_slice(&8u32.to_le_bytes()); // offset of the first IFD
        exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
        exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
        exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
        exif.extend_from_slice(&1u32.to_le_bytes()); // count
        exif.extend_from_slice(&[6, 0, 0, 0]); // value 6
        exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let rgb: Vec<u8> = halves(32, 16, [0u8; 3], [255u8; 3]).concat();
        let p = prepare_upload(&jpeg(32, 16, &rgb, Some(exif)), 16).unwrap();
        assert_eq!((p.source_width, p.source_height), (16, 32));
        // The square crop keeps shown rows 8..24: dark rows 8..16, bright rows 16..24.
        assert!(mean(&p.image, 16, 0..6, 0..16) < 0.1);
        assert!(mean(&p.image, 16, 10..16, 0..16) > 0.9);
        assert!(
            p.notes
                .iter()
                .any(|s| s.contains("Rotated 90° clockwise as its EXIF orientation says")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn non_square_images_are_centre_cropped_not_stretched() {
        // 12×8 with v = x + 100 y, working side 8: the crop keeps columns 2..10 unchanged.
        let luma: Vec<f32> = (0..8)
            .flat_map(|y| (0..12).map(move |x| (x + 100 * y) as f32 / 1000.0))
            .collect();
        let p = prepare_luma(12, 8, &luma, 8).unwrap();
        let (lo, hi) = (2.0f32 / 1000.0, 709.0f32 / 1000.0);
        for y in 0..8 {
            for x in 0..8 {
                let expected = ((x + 2 + 100 * y) as f32 / 1000.0 - lo) / (hi - lo);
                assert!((p.image[y * 8 + x] - expected).abs() < 1e-5, "({y}, {x})");
            }
        }
        // A tall 10×16 PNG with working side 10: rows 3..13 are kept.
        let grey: Vec<u8> = (0..16u8).flat_map(|y| [y * 10; 10]).collect();
        let p = prepare_upload(&png(10, 16, ExtendedColorType::L8, &grey), 10).unwrap();
        for y in 0..10 {
            let expected = y as f32 / 9.0;
            assert!((p.image[y * 10 + 5] - expected).abs() < 1e-6, "row {y}");
        }
        assert!(p
            .notes
            .iter()
            .any(|s| s.contains("6 rows removed (3 on one side, 3 on the other)")));
    }

    #[test]
    fn any_finite_range_is_accepted() {
        let luma = halves(64, 64, -500.0f32, 1500.0);
        let p = prepare_luma(64, 64, &luma, 32).unwrap();
        assert_unit_range(&p);
        assert!(mean(&p.image, 32, 0..32, 0..12) < 0.01);
        assert!(mean(&p.image, 32, 0..32, 20..32) > 0.99);
    }

    #[test]
    fn small_images_are_enlarged_with_a_warning_and_strong_crops_are_flagged() {
        let luma: Vec<f32> = (0..40 * 12).map(|i| (i % 40) as f32 / 40.0).collect();
        let p = prepare_luma(40, 12, &luma, 128).unwrap();
        assert_unit_range(&p);
        assert!(p.notes.iter().any(|s| s.starts_with("Enlarged from 12×12")));
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }

    #[test]
    fn constant_image_becomes_zeros_with_a_warning() {
        let file = png(20, 20, ExtendedColorType::L8, &[77u8; 400]);
        let p = prepare_upload(&file, 128).unwrap();
        assert!(p.image.iter().all(|&v| v == 0.0));
        assert!(
            p.warnings.iter().any(|s| s.contains("constant")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let empty = error_message(prepare_upload(&[], 128));
        assert!(empty.contains("empty"), "{empty}");

        let garbage = error_message(prepare_upload(b"this is certainly not an image", 128));
        assert!(garbage.contains("not a PNG or JPEG"), "{garbage}");

        let gif = error_message(prepare_upload(b"GIF89a\x10\0\x10\0\0\0\0", 128));
        assert!(
            gif.contains("GIF file") && gif.contains("PNG or JPEG"),
            "{gif}"
        );

        let noise: Vec<u8> = (0..64 * 64u32).map(|i| (i * 7919 % 251) as u8).collect();
        let full = png(64, 64, ExtendedColorType::L8, &noise);
        let truncated = error_message(prepare_upload(&full[..full.len() / 2], 128));
        assert!(truncated.contains("damaged or incomplete"), "{truncated}");

        let tiny = png(1, 1, ExtendedColorType::L8, &[128]);
        let tiny = error_message(prepare_upload(&tiny, 128));
        assert!(tiny.contains("too small") && tiny.contains("1×1"), "{tiny}");

        let thin = png(100, 7, ExtendedColorType::L8, &[0; 700]);
        assert!(error_message(prepare_upload(&thin, 128)).contains("too small"));
    }

    /// A PNG whose header claims `width × height` but whose data is a few bytes: only the header
    /// may be read.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xEDB8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn huge_images_are_refused_from_the_header() {
        // 10 000 × 9 000 = 90 megapixels: refused before any pixel buffer is allocated.
        let message = error_message(prepare_upload(&png_header_only(10_000, 9_000), 256));
        assert!(
            message.contains("too large") && message.contains("90.0 megapixels"),
            "{message}"
        );
        // A header within the limits passes the check and then fails on the missing data.
        let message = error_message(prepare_upload(&png_header_only(100, 100), 256));
        assert!(message.contains("damaged or incomplete"), "{message}");
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header_with_the_limits_stated() {
        // 4.3 gigapixels claimed in 61 bytes.
        let message = error_message(prepare_upload(&png_header_only(65_535, 65_535), 128));
        assert!(
            message.contains("65535×65535")
                && message.contains("4294.8 megapixels")
                && message.contains("the limits are 40 megapixels and 16384 pixels a side"),
            "{message}"
        );
        // A side over the limit within the pixel count.
        let message = error_message(prepare_upload(
            &png_header_only(MAX_UPLOAD_SIDE + 1, 100),
            128,
        ));
        assert!(
            message.contains("16385×100") && message.contains("16384 pixels a side"),
            "{message}"
        );
        // A JPEG whose start of frame is forged to 65535 × 65535.
        let mut file = jpeg(16, 16, &[128u8; 16 * 16 * 3], None);
        let sof = file.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        file[sof + 5..sof + 9].copy_from_slice(&[0xFF; 4]);
        let message = error_message(prepare_upload(&file, 128));
        assert!(
            message.contains("65535×65535") && message.contains("40 megapixels"),
            "{message}"
        );
    }

    /// A header within the limits on a file far too small to hold its pixels (a truncated file,
    /// or a bomb just under the limits) is refused before the pixel buffer is allocated.
    #[test]
    fn headers_claiming_more_pixels_than_the_file_can_hold_are_refused() {
        let file = png_header_only(6000, 6000);
        let message = error_message(prepare_upload(&file, 128));
        assert!(
            message.contains("damaged or truncated")
                && message.contains("6000×6000")
                && message.contains(&format!("{} bytes cannot hold", file.len()))
                && message.contains("at least 4361 bytes"),
            "{message}"
        );
        let mut file = jpeg(16, 16, &[128u8; 16 * 16 * 3], None);
        let sof = file.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        file[sof + 5..sof + 9].copy_from_slice(&[0x0F, 0xA0, 0x0F, 0xA0]);
        let message = error_message(prepare_upload(&file, 128));
        assert!(
            message.contains("JPEG file is damaged") && message.contains("4000×4000"),
            "{message}"
        );
    }

    /// The bound of `max_pixels_in` holds for the most compressible real files: one flat
    /// colour, deflated at the best level or coded at the lowest JPEG quality.
    #[test]
    fn the_most_compressible_real_files_are_within_the_pixel_bound() {
        use image::codecs::png::{CompressionType, FilterType as PngFilter};
        let (w, h) = (2000u32, 1500u32);
        let mut flat = Vec::new();
        PngEncoder::new_with_quality(&mut flat, CompressionType::Best, PngFilter::NoFilter)
            .write_image(&vec![7u8; (w * h) as usize], w, h, ExtendedColorType::L8)
            .unwrap();
        assert!(u64::from(w * h) <= max_pixels_in(ImageFormat::Png, flat.len()));
        let image = prepare_upload(&flat, 128).unwrap();
        assert_eq!((image.source_width, image.source_height), (2000, 1500));
        let mut flat = Vec::new();
        JpegEncoder::new_with_quality(&mut flat, 1)
            .write_image(
                &vec![7u8; (w * h * 3) as usize],
                w,
                h,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
        assert!(
            u64::from(w * h) <= max_pixels_in(ImageFormat::Jpeg, flat.len()),
            "{} bytes",
            flat.len()
        );
        assert!(prepare_upload(&flat, 128).is_ok());
    }

    #[test]
    fn files_over_the_byte_limit_are_refused_unread() {
        let mut big = png(16, 16, ExtendedColorType::L8, &[9; 256]);
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        let message = error_message(prepare_upload(&big, 128));
        assert!(
            message.contains("too large (25.0 MB)") && message.contains("the limit is 25 MB"),
            "{message}"
        );
    }

    #[test]
    fn bad_values_and_sizes_are_refused() {
        let mut luma = vec![0.5f32; 16 * 16];
        luma[17] = f32::NAN;
        assert!(error_message(prepare_luma(16, 16, &luma, 16)).contains("not finite"));
        luma[17] = f32::INFINITY;
        assert!(error_message(prepare_luma(16, 16, &luma, 16)).contains("not finite"));
        assert!(error_message(prepare_luma(16, 15, &luma, 16)).contains("256 pixel values"));
        assert!(error_message(prepare_luma(16, 16, &[0.5; 256], 4)).contains("working size"));
    }
}
