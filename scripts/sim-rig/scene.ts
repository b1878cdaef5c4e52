// Camera frames for the simulated rig: a street (sky, buildings, road), cars with rendered licence
// plates and pedestrians with real face photos, moving across a short pre-rendered loop. Frames are
// JPEG-encoded once at start-up so publishing costs nothing but a copy.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const faceAssetPath = fileURLToPath(new URL('./assets/face-collins.jpg', import.meta.url));

/** Plate texts drawn on the cars (made-up, EU style). */
export const plateTexts: readonly string[] = ['AB 123 CD', 'KL 482 ZT', 'M RX 2207', 'HH 90 PQ'];

export interface SceneOptions {
  readonly width: number;
  readonly height: number;
  /** Distinct frames in the loop. */
  readonly frames: number;
  readonly jpegQuality: number;
  /** Label burnt into the frame (camera name). */
  readonly label: string;
  /** Varies colours and layout between cameras. */
  readonly variant: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function plateSvg(x: number, y: number, w: number, text: string): string {
  const h = Math.round(w * 0.22);
  const strip = Math.round(w * 0.09);
  return `<g><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${h * 0.12}" fill="#f4f4f0" stroke="#111" stroke-width="${Math.max(1, w * 0.015)}"/>
<rect x="${x}" y="${y}" width="${strip}" height="${h}" fill="#1d3f9a"/>
<text x="${x + strip + (w - strip) / 2}" y="${y + h * 0.78}" font-family="DejaVu Sans Mono" font-weight="bold" font-size="${h * 0.78}" text-anchor="middle" fill="#111">${escapeXml(text)}</text></g>`;
}

function carSvg(x: number, y: number, w: number, colour: string, plate: string): string {
  const h = w * 0.55;
  return `<g><rect x="${x}" y="${y + h * 0.3}" width="${w}" height="${h * 0.55}" rx="${w * 0.06}" fill="${colour}"/>
<path d="M ${x + w * 0.18} ${y + h * 0.3} L ${x + w * 0.3} ${y} L ${x + w * 0.7} ${y} L ${x + w * 0.82} ${y + h * 0.3} Z" fill="${colour}"/>
<rect x="${x + w * 0.32}" y="${y + h * 0.05}" width="${w * 0.36}" height="${h * 0.22}" fill="#9fc3d9"/>
<circle cx="${x + w * 0.2}" cy="${y + h * 0.88}" r="${h * 0.14}" fill="#1a1a1a"/><circle cx="${x + w * 0.8}" cy="${y + h * 0.88}" r="${h * 0.14}" fill="#1a1a1a"/>
<rect x="${x + w * 0.05}" y="${y + h * 0.38}" width="${w * 0.12}" height="${h * 0.1}" fill="#ffe9a0"/><rect x="${x + w * 0.83}" y="${y + h * 0.38}" width="${w * 0.12}" height="${h * 0.1}" fill="#ffe9a0"/>
${plateSvg(x + w * 0.35, y + h * 0.55, w * 0.3, plate)}</g>`;
}

interface Pedestrian {
  x: number;
  y: number;
  faceHeight: number;
  mirrored: boolean;
}

function streetSvg(options: SceneOptions, frame: number, pedestrians: readonly Pedestrian[]): string {
  const { width: w, height: h, variant } = options;
  const horizon = h * 0.45;
  const sky = variant % 2 === 0 ? ['#8cb8e6', '#dbe9f5'] : ['#b9c7d6', '#eef1f4'];
  const buildings: string[] = [];
  for (let i = 0; i < 9; i++) {
    const bx = (i * w) / 8 - w * 0.05;
    const bh = h * (0.18 + ((i * 37 + variant * 11) % 23) / 100);
    const shade = 90 + ((i * 29 + variant * 17) % 70);
    buildings.push(
      `<rect x="${bx}" y="${horizon - bh}" width="${w / 8.5}" height="${bh}" fill="rgb(${shade},${shade - 8},${shade - 15})"/>`,
    );
    for (let row = 0; row < 4; row++)
      buildings.push(
        `<rect x="${bx + w * 0.02}" y="${horizon - bh + 12 + row * bh * 0.22}" width="${w * 0.06}" height="${bh * 0.1}" fill="#3c4a5a" opacity="0.7"/>`,
      );
  }
  const t = frame / Math.max(1, options.frames);
  const cars = [
    carSvg(
      ((t + 0.1 * variant) % 1) * (w * 1.2) - w * 0.2,
      h * 0.55,
      w * 0.26,
      '#b3261e',
      plateTexts[(variant * 2) % plateTexts.length] ?? '',
    ),
    carSvg(
      w * 0.62 - ((t * 0.6) % 1) * w * 0.3,
      h * 0.5,
      w * 0.18,
      '#2e5e8c',
      plateTexts[(variant * 2 + 1) % plateTexts.length] ?? '',
    ),
  ];
  const bodies = pedestrians.map((p) => {
    const bw = p.faceHeight * 0.9;
    return `<rect x="${p.x + (p.faceHeight * 0.8 - bw) / 2}" y="${p.y + p.faceHeight * 0.95}" width="${bw}" height="${p.faceHeight * 2.2}" rx="${bw * 0.2}" fill="#454f5e"/>`;
  });
  const label = `${options.label} ${String(frame).padStart(3, '0')}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky[0]}"/><stop offset="1" stop-color="${sky[1]}"/></linearGradient></defs>
<rect width="${w}" height="${horizon}" fill="url(#sky)"/>${buildings.join('')}
<rect y="${horizon}" width="${w}" height="${h - horizon}" fill="#5b5e61"/>
<rect y="${horizon}" width="${w}" height="${h * 0.06}" fill="#a7a49c"/>
${Array.from({ length: 8 }, (_, i) => `<rect x="${((i / 8 + t) % 1) * w}" y="${h * 0.8}" width="${w * 0.06}" height="${h * 0.012}" fill="#eee"/>`).join('')}
${bodies.join('')}${cars.join('')}
<rect x="8" y="8" width="${label.length * h * 0.024 + 16}" height="${h * 0.05}" fill="#000" opacity="0.55"/>
<text x="16" y="${8 + h * 0.038}" font-family="DejaVu Sans Mono" font-size="${h * 0.036}" fill="#fff">${escapeXml(label)}</text>
</svg>`;
}

/** Renders the frame loop for one camera: JPEG bytes, one entry per frame. */
export async function renderCameraFrames(options: SceneOptions): Promise<Uint8Array[]> {
  const faceSource = await readFile(faceAssetPath);
  const frames: Uint8Array[] = [];
  for (let frame = 0; frame < options.frames; frame++) {
    const t = frame / Math.max(1, options.frames);
    const pedestrians: Pedestrian[] = [0, 1, 2].map((i) => {
      const faceHeight = Math.max(16, Math.round(options.height * (0.09 + 0.05 * i)));
      const lane =
        ((t * (0.3 + 0.15 * i) + 0.33 * i + 0.2 * options.variant) % 1) * (options.width - faceHeight);
      return {
        x: Math.round(lane),
        y: Math.round(options.height * (0.3 + 0.06 * i)),
        faceHeight,
        mirrored: (i + options.variant) % 2 === 1,
      };
    });
    const faces = await Promise.all(
      pedestrians.map(async (p) => {
        const width = Math.round(p.faceHeight * 0.8);
        const face = sharp(faceSource).resize(width, p.faceHeight);
        return { input: await (p.mirrored ? face.flop() : face).toBuffer(), left: p.x, top: p.y };
      }),
    );
    const jpeg = await sharp(Buffer.from(streetSvg(options, frame, pedestrians)))
      .composite(faces)
      .jpeg({ quality: options.jpegQuality })
      .toBuffer();
    frames.push(new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  }
  return frames;
}
