// The inputs the end-to-end hardening tests and the soak test (scripts/soak.mjs) make: PNG files
// built byte by byte (valid, truncated, or with a header that claims any size) and the corpus's
// generated string parts.
import zlib from 'node:zlib';

/** A case's string with its `{{k}}` replaced by its generated parts (long, encoded or many-line). */
export function expand(text, parts = []) {
  return text.replace(/\{\{(\d+)\}\}/g, (_, k) => {
    const p = parts[Number(k)];
    if (p.repeat !== undefined) return p.repeat.repeat(p.times);
    if (p.lines !== undefined) return Array(p.times).fill(p.lines).join('\n');
    if (p.b64 !== undefined) return Buffer.from(JSON.stringify(p.b64)).toString('base64url');
    throw new Error(`unknown part ${JSON.stringify(p)}`);
  });
}

/** A PNG chunk with its length and CRC. */
export function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

export const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit grey PNG header (IHDR) claiming `w × h`. */
export function ihdr(w, h) {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d[8] = 8;
  d[9] = 0;
  return chunk('IHDR', d);
}

/** A grey 8-bit PNG of `w × h` pixels given by `f(x, y)` in 0…255. */
export function png(w, h, f) {
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = f(x, y);
  return Buffer.concat([SIGNATURE, ihdr(w, h), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export const DISC = png(300, 200, (x, y) => ((x - 150) ** 2 + (y - 100) ** 2 < 70 ** 2 ? 230 : 25));
/** The smallest GIF (1×1, one colour). */
export const GIF = Buffer.from('47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b', 'hex');

/** The upload recipes of the corpus (`input.file`); the JPEG is made by `page`'s canvas. */
export const UPLOADS = ['empty', 'text', 'truncated-png', 'png-1x1', 'png-65535', 'jpeg-65535', 'svg-script', 'gif', 'zeros-26mb', 'png-16385', 'png-constant', 'png-disc'];


export async function uploadFile(page, recipe) {
  switch (recipe) {
    case 'empty':
      return Buffer.alloc(0);
    case 'text':
      return Buffer.from('Hello: this is a text file renamed .png, not an image.\n');
    case 'truncated-png':
      return DISC.subarray(0, Math.floor(DISC.length * 0.6));
    case 'png-1x1':
      return png(1, 1, () => 128);
    case 'png-65535':
      // A valid signature and IHDR (with its CRC) claiming 65535 × 65535, and a tiny IDAT.
      return Buffer.concat([SIGNATURE, ihdr(65535, 65535), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
    case 'jpeg-65535': {
      const bytes = Buffer.from(
        await page.evaluate(async () => {
          const c = document.createElement('canvas');
          c.width = 64;
          c.height = 64;
          const g = c.getContext('2d');
          g.fillStyle = '#888';
          g.fillRect(0, 0, 64, 64);
          g.fillStyle = '#fff';
          g.fillRect(16, 16, 32, 32);
          const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/jpeg', 0.9));
          return Array.from(new Uint8Array(await blob.arrayBuffer()));
        }),
      );
      // The frame header: FF C0|C2, length, precision, height, width.
      let sof = -1;
      for (let i = 2; i + 9 < bytes.length; i++) {
        if (bytes[i] === 0xff && (bytes[i + 1] === 0xc0 || bytes[i + 1] === 0xc2)) {
          sof = i;
          break;
        }
      }
      if (sof < 0) throw new Error('the browser JPEG has no frame header');
      bytes.writeUInt16BE(65535, sof + 5);
      bytes.writeUInt16BE(65535, sof + 7);
      return bytes;
    }
    case 'svg-script':
      return Buffer.from(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" onload="alert(1)">' +
          '<script>alert(document.domain)</script><rect width="64" height="64" fill="#fff"/></svg>',
      );
    case 'gif':
      return GIF;
    case 'zeros-26mb':
      return Buffer.alloc(26 * 1024 * 1024);
    case 'png-16385':
      return Buffer.concat([SIGNATURE, ihdr(16385, 100), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
    case 'png-constant':
      return png(64, 64, () => 100);
    case 'png-disc':
      return DISC;
    default:
      throw new Error(`unknown upload recipe ${recipe}`);
  }
}
