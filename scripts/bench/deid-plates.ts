// Number plates for the synthetic de-id video: several formats (EU long, UK yellow, US, two-line
// square, Japanese-style, dark) and stroke fonts drawn as SVG paths, so rendering needs no font
// installed and gives the same pixels on every machine.
import sharp from 'sharp';
import type { MipSprite, Raster } from './deid-raster.ts';

/** Glyphs as SVG stroke paths in a 10 x 16 cell (y down, baseline at 16). */
const glyphs: Record<string, string> = {
  '0': 'M5 0C1.5 0 0 3.5 0 8C0 12.5 1.5 16 5 16C8.5 16 10 12.5 10 8C10 3.5 8.5 0 5 0Z',
  '1': 'M2 3.5L6 0L6 16',
  '2': 'M0.5 4C0.5 1.5 2.5 0 5 0C7.5 0 9.5 1.5 9.5 4.5C9.5 8.5 0 11.5 0 16L10 16',
  '3': 'M0.5 0L9.5 0L4 6.8C8 6.8 10 8.8 10 11.5C10 14.5 8 16 5 16C2.5 16 0.5 15 0 13',
  '4': 'M7.5 16L7.5 0L0 11L10 11',
  '5': 'M9 0L1.2 0L0.5 7C2 6.2 3.3 6 5 6C8 6 10 8 10 11C10 14 8 16 5 16C2.5 16 0.5 15 0 13',
  '6': 'M8.5 0.5C3.5 0.5 0 4 0 10.5C0 14 2 16 5 16C8 16 10 14 10 11C10 8 8 6 5 6C2.5 6 0.5 7.5 0 10',
  '7': 'M0 0L10 0L3.5 16',
  '8': 'M5 7.2C2.2 7.2 1 5.5 1 3.6C1 1.5 2.5 0 5 0C7.5 0 9 1.5 9 3.6C9 5.5 7.8 7.2 5 7.2C2 7.2 0 8.8 0 11.6C0 14.5 2 16 5 16C8 16 10 14.5 10 11.6C10 8.8 8 7.2 5 7.2Z',
  '9': 'M1.5 15.5C6.5 15.5 10 12 10 5.5C10 2 8 0 5 0C2 0 0 2 0 5C0 8 2 10 5 10C7.5 10 9.5 8.5 10 6',
  A: 'M0 16L5 0L10 16M1.8 10.5L8.2 10.5',
  B: 'M0 16L0 0L6 0C8.5 0 9.5 1.5 9.5 3.8C9.5 6 8.5 7.5 6 7.5L0 7.5M6 7.5C9 7.5 10 9.5 10 11.8C10 14 9 16 6 16L0 16',
  C: 'M10 3C9 1 7.5 0 5.5 0C2 0 0 3 0 8C0 13 2 16 5.5 16C7.5 16 9 15 10 13',
  D: 'M0 0L0 16L4.5 16C8 16 10 13 10 8C10 3 8 0 4.5 0Z',
  E: 'M10 0L0 0L0 16L10 16M0 7.5L7.5 7.5',
  F: 'M10 0L0 0L0 16M0 7.5L7.5 7.5',
  G: 'M10 3C9 1 7.5 0 5.5 0C2 0 0 3 0 8C0 13 2 16 5.5 16C8 16 10 14 10 11L10 9L6 9',
  H: 'M0 0L0 16M10 0L10 16M0 7.5L10 7.5',
  J: 'M8 0L8 12C8 14.5 6.5 16 4 16C1.5 16 0 14.5 0 12',
  K: 'M0 0L0 16M10 0L0 10M3.2 7L10 16',
  L: 'M0 0L0 16L10 16',
  M: 'M0 16L0 0L5 10L10 0L10 16',
  N: 'M0 16L0 0L10 16L10 0',
  P: 'M0 16L0 0L6 0C8.5 0 10 1.5 10 4.3C10 7 8.5 8.5 6 8.5L0 8.5',
  R: 'M0 16L0 0L6 0C8.5 0 10 1.5 10 4.3C10 7 8.5 8.5 6 8.5L0 8.5M5.5 8.5L10 16',
  S: 'M9.5 3C9 1 7.5 0 5 0C2.5 0 0.5 1.5 0.5 4C0.5 9 9.5 6.5 9.5 12C9.5 14.5 7.5 16 5 16C2.5 16 0.5 15 0 13',
  T: 'M0 0L10 0M5 0L5 16',
  U: 'M0 0L0 11C0 14 2 16 5 16C8 16 10 14 10 11L10 0',
  V: 'M0 0L5 16L10 0',
  W: 'M0 0L2.5 16L5 6L7.5 16L10 0',
  X: 'M0 0L10 16M10 0L0 16',
  Y: 'M0 0L5 8L10 0M5 8L5 16',
  Z: 'M0 0L10 0L0 16L10 16',
  '-': 'M2 8L8 8',
};

/** A stroke font: how the glyph paths are stroked and spaced. */
export interface StrokeFont {
  readonly name: string;
  /** Stroke width in glyph units (cell height 16). */
  readonly weight: number;
  /** Horizontal scale of the cell. */
  readonly width: number;
  /** Advance between cells, in glyph units before `width`. */
  readonly advance: number;
  readonly cap: 'butt' | 'round' | 'square';
  /** Slant in degrees (positive leans right). */
  readonly slant: number;
}

export const strokeFonts: readonly StrokeFont[] = [
  { name: 'din', weight: 2.1, width: 1, advance: 13.5, cap: 'butt', slant: 0 },
  { name: 'rounded-bold', weight: 3, width: 1.05, advance: 14.5, cap: 'round', slant: 0 },
  { name: 'condensed', weight: 2.3, width: 0.68, advance: 13, cap: 'square', slant: 0 },
  { name: 'light', weight: 1.4, width: 0.95, advance: 13, cap: 'round', slant: 0 },
  { name: 'slanted', weight: 2.2, width: 0.9, advance: 13.5, cap: 'butt', slant: 9 },
];

/** Plate layouts; sizes in millimetres as issued, text rows as [height share, y share of centre]. */
export interface PlateFormat {
  readonly name: string;
  readonly widthMm: number;
  readonly heightMm: number;
  readonly field: string;
  readonly ink: string;
  readonly border: string | null;
  /** A blue band with a country code on the left (EU style). */
  readonly euBand: boolean;
  /** One row (single-line) or two rows of registration text. */
  readonly rows: ReadonlyArray<{ readonly height: number; readonly centre: number; readonly chars: number }>;
  /** A small caption on top (US state name). */
  readonly caption: boolean;
}

export const plateFormats: readonly PlateFormat[] = [
  {
    name: 'eu-long',
    widthMm: 520,
    heightMm: 110,
    field: '#f2f2ec',
    ink: '#151515',
    border: '#151515',
    euBand: true,
    rows: [{ height: 0.68, centre: 0.5, chars: 8 }],
    caption: false,
  },
  {
    name: 'uk-yellow',
    widthMm: 520,
    heightMm: 111,
    field: '#f2c318',
    ink: '#111111',
    border: null,
    euBand: false,
    rows: [{ height: 0.7, centre: 0.5, chars: 7 }],
    caption: false,
  },
  {
    name: 'us',
    widthMm: 305,
    heightMm: 152,
    field: '#eef0f4',
    ink: '#1a2a6a',
    border: '#1a2a6a',
    euBand: false,
    rows: [{ height: 0.5, centre: 0.56, chars: 7 }],
    caption: true,
  },
  {
    name: 'two-line',
    widthMm: 280,
    heightMm: 200,
    field: '#f4f4f0',
    ink: '#121212',
    border: '#121212',
    euBand: false,
    rows: [
      { height: 0.34, centre: 0.29, chars: 3 },
      { height: 0.34, centre: 0.72, chars: 5 },
    ],
    caption: false,
  },
  {
    name: 'jp-style',
    widthMm: 330,
    heightMm: 165,
    field: '#f6f6f2',
    ink: '#14532d',
    border: '#14532d',
    euBand: false,
    rows: [
      { height: 0.24, centre: 0.2, chars: 5 },
      { height: 0.5, centre: 0.63, chars: 5 },
    ],
    caption: false,
  },
  {
    name: 'dark',
    widthMm: 440,
    heightMm: 120,
    field: '#1d1d1f',
    ink: '#e8e8e8',
    border: '#9a9a9a',
    euBand: false,
    rows: [{ height: 0.62, centre: 0.5, chars: 7 }],
    caption: false,
  },
];

const letters = 'ABCDEFGHJKLMNPRSTUVWXYZ';
const digits = '0123456789';

/** A made-up registration of `n` characters, letters and digits mixed, maybe a dash. */
export function registration(n: number, r: () => number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    const pool = (i + Math.floor(r() * 2)) % 3 === 0 ? digits : letters;
    out += pool[Math.floor(r() * pool.length)]!;
  }
  if (n >= 6 && r() < 0.5) {
    const at = 2 + Math.floor(r() * (n - 4));
    out = `${out.slice(0, at)}-${out.slice(at + 1)}`;
  }
  return out;
}

/** One row of text centred at (cx, cy), squeezed to `maxW`: its SVG, left edge and width. */
function textRow(
  text: string,
  font: StrokeFont,
  o: { cx: number; cy: number; h: number; maxW: number; ink: string },
): { svg: string; x: number; w: number } {
  const unit = o.h / 16;
  const cellW = font.advance * font.width;
  const naturalW = (text.length * cellW - (font.advance - 10) * font.width) * unit;
  const squeeze = Math.min(1, o.maxW / naturalW);
  const sx = unit * font.width * squeeze;
  const sy = unit;
  const w = naturalW * squeeze;
  const x0 = o.cx - w / 2;
  const y0 = o.cy - o.h / 2;
  const skew = Math.tan((font.slant * Math.PI) / 180);
  const parts = [...text].map((ch, i) => {
    const d = glyphs[ch];
    if (d === undefined) return '';
    const tx = x0 + i * cellW * unit * squeeze;
    // Skew about the baseline so slanted text stays on its row.
    return `<path transform="translate(${tx.toFixed(2)} ${y0.toFixed(2)}) matrix(${sx} 0 ${(-skew * sx).toFixed(4)} ${sy} ${(skew * 16 * sx).toFixed(3)} 0)" d="${d}"/>`;
  });
  return {
    svg: `<g fill="none" stroke="${o.ink}" stroke-width="${font.weight}" stroke-linecap="${font.cap}" stroke-linejoin="round">${parts.join('')}</g>`,
    x: x0,
    w,
  };
}

/** A rendered plate: its sprite and where the plate (and an occluding post, if any) lie in it. */
export interface PlateSprite {
  readonly sprite: MipSprite;
  /** The plate's rectangle in level-0 sprite pixels: [x, y, w, h]. */
  readonly plate: readonly [number, number, number, number];
  /** The registration's characters (what identifies the plate), all rows: [x, y, w, h]. */
  readonly text: readonly [number, number, number, number];
  /** A post in front of part of the plate, in level-0 sprite pixels, or null. */
  readonly occluder: readonly [number, number, number, number] | null;
}

export interface PlateStyle {
  readonly format: PlateFormat;
  readonly font: StrokeFont;
  readonly text: readonly string[];
  /** Share of the plate's width hidden behind a post (0: none). */
  readonly occlusion: number;
  /** Where the post stands, as a share of the plate's width from its left edge. */
  readonly occluderAt: number;
  /** 0 clean, 1 dirty: the field greys and the ink fades towards it. */
  readonly grime: number;
}

/** Renders a plate `heightPx` high (level 0), with mip levels down to a few pixels. */
export async function renderPlate(style: PlateStyle, heightPx: number): Promise<PlateSprite> {
  const f = style.format;
  const h = heightPx;
  const w = Math.round((h * f.widthMm) / f.heightMm);
  const pad = Math.round(h * 0.25);
  const W = w + 2 * pad;
  const H = h + 2 * pad;
  const fieldGrey = style.grime > 0 ? mix(f.field, '#8a8a82', style.grime * 0.55) : f.field;
  const ink = style.grime > 0 ? mix(f.ink, fieldGrey, style.grime * 0.45) : f.ink;
  const parts: string[] = [];
  parts.push(
    `<rect x="${pad}" y="${pad}" width="${w}" height="${h}" rx="${(h * 0.08).toFixed(2)}" fill="${fieldGrey}"${f.border === null ? '' : ` stroke="${f.border}" stroke-width="${Math.max(1, h * 0.035).toFixed(2)}"`}/>`,
  );
  let textLeft = pad + h * 0.08;
  if (f.euBand) {
    const bw = h * 0.42;
    parts.push(
      `<rect x="${pad + h * 0.04}" y="${pad + h * 0.04}" width="${bw}" height="${h * 0.92}" fill="#1f43a0"/>`,
    );
    parts.push(
      textRow(
        style.text[2] ?? 'D',
        { ...style.font, weight: 2 },
        { cx: pad + h * 0.04 + bw / 2, cy: pad + h * 0.72, h: h * 0.26, maxW: bw * 0.8, ink: '#f1f1f1' },
      ).svg,
    );
    textLeft = pad + h * 0.04 + bw + h * 0.06;
  }
  if (f.caption)
    parts.push(
      textRow(
        style.text[2] ?? 'STATE',
        { ...style.font, weight: 2.4, slant: 0 },
        { cx: pad + w / 2, cy: pad + h * 0.15, h: h * 0.13, maxW: w * 0.5, ink: '#8a1a1a' },
      ).svg,
    );
  const textRight = pad + w - h * 0.08;
  let tx0 = Infinity;
  let tx1 = -Infinity;
  let ty0 = Infinity;
  let ty1 = -Infinity;
  for (const [i, row] of f.rows.entries()) {
    const cy = pad + h * row.centre;
    const rowH = h * row.height;
    const drawn = textRow(style.text[i] ?? '', style.font, {
      cx: (textLeft + textRight) / 2,
      cy,
      h: rowH,
      maxW: textRight - textLeft,
      ink,
    });
    parts.push(drawn.svg);
    // Half a stroke reaches beyond the glyph cells on every side.
    const half = (style.font.weight / 16) * rowH * 0.5;
    tx0 = Math.min(tx0, drawn.x - half);
    tx1 = Math.max(tx1, drawn.x + drawn.w + half);
    ty0 = Math.min(ty0, cy - rowH / 2 - half);
    ty1 = Math.max(ty1, cy + rowH / 2 + half);
  }
  let occluder: PlateSprite['occluder'] = null;
  if (style.occlusion > 0) {
    const ow = w * style.occlusion;
    const ox = pad + w * style.occluderAt - ow / 2;
    parts.push(
      `<defs><linearGradient id="post"><stop offset="0" stop-color="#3a3a3a"/><stop offset="0.5" stop-color="#6d6d6b"/><stop offset="1" stop-color="#2f2f2f"/></linearGradient></defs>`,
    );
    parts.push(`<rect x="${ox.toFixed(2)}" y="0" width="${ow.toFixed(2)}" height="${H}" fill="url(#post)"/>`);
    occluder = [ox, 0, ow, H];
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
  const base = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    sprite: await mipLevels(toRaster(base)),
    plate: [pad, pad, w, h],
    text: [tx0, ty0, tx1 - tx0, ty1 - ty0],
    occluder,
  };
}

/** Mip levels of an RGBA raster, each 1.5 times smaller, down to 8 px on the short side. */
export async function mipLevels(raster: Raster): Promise<MipSprite> {
  const levels: Array<{ scale: number; raster: Raster }> = [{ scale: 1, raster }];
  for (let scale = 1 / 1.5; Math.min(raster.width, raster.height) * scale >= 8; scale /= 1.5) {
    const width = Math.max(1, Math.round(raster.width * scale));
    const height = Math.max(1, Math.round(raster.height * scale));
    const out = await sharp(raster.data, {
      raw: { width: raster.width, height: raster.height, channels: raster.channels },
    })
      .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // The level's scale is what was actually achieved horizontally.
    levels.push({ scale: width / raster.width, raster: toRaster(out) });
  }
  return { levels };
}

export function toRaster(o: {
  data: Buffer;
  info: { width: number; height: number; channels: number };
}): Raster {
  return {
    width: o.info.width,
    height: o.info.height,
    channels: o.info.channels === 4 ? 4 : 3,
    data: new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength),
  };
}

function mix(a: string, b: string, t: number): string {
  const pa = [1, 3, 5].map((i) => Number.parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => Number.parseInt(b.slice(i, i + 2), 16));
  return `#${pa
    .map((v, i) =>
      Math.round(v * (1 - t) + pb[i]! * t)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}
