import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FrameDetector } from '../../../agent/deid/detector.ts';
import { FaceScanSchedule } from '../../../agent/deid/face-scan.ts';
import { decodeImageSample } from '../../../agent/deid/image-codec.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { containment, type Detection } from '../../../agent/deid/geometry.ts';
import { loadLocalRedactor } from '../../../agent/deid/local-redactor.ts';
import { defaultDeidConfig, deidParamsFor } from '../../../agent/deid/params.ts';
import { runDeidSelfTest, selfTestImageUrl } from '../../../agent/deid/selftest.ts';
import { InferenceSession } from 'onnxruntime-node';
import { readVerifiedModel } from '../../../agent/deid/models.ts';
import { DbPlateDetector } from '../../../agent/deid/plate-detector.ts';

// Where the face and the plate are in the shipped self-test image (see test/fixtures/deid/make-eval-set.ts).
const knownFace = { x: 93, y: 108, w: 95, h: 105 };
const knownPlateText = { x: 340, y: 312, w: 100, h: 20 };

describe('de-id detectors on the shipped test image', () => {
  it('find the known face and plate, blur them, and pass the self-test', async () => {
    const redactor = await loadLocalRedactor({ config: defaultDeidConfig });
    const jpeg = new Uint8Array(await readFile(selfTestImageUrl));
    const out = await redactor.redact({ encoding: 'jpeg', schemaRef: '', data: jpeg });
    const covers = (kind: Detection['kind'], box: typeof knownFace): boolean =>
      out.detections.some(
        (d) =>
          d.kind === kind &&
          containment(box, {
            x: d.box.x - d.box.w * 0.15,
            y: d.box.y - d.box.h * 0.15,
            w: d.box.w * 1.3,
            h: d.box.h * 1.3,
          }) > 0.7,
      );
    expect(covers('face', knownFace)).toBe(true);
    expect(covers('plate', knownPlateText)).toBe(true);
    expect(out.data).not.toEqual(jpeg);
    const result = await runDeidSelfTest((image) =>
      redactor.redact({ encoding: 'jpeg', schemaRef: '', data: image }),
    );
    expect(result.faces).toBeGreaterThanOrEqual(1);
    expect(result.plates).toBeGreaterThanOrEqual(1);
  });

  it('as frames of a stream: the second frame scans fewer tiles and still blurs the face and the plate', async () => {
    const redactor = await loadLocalRedactor({ config: defaultDeidConfig });
    const jpeg = new Uint8Array(await readFile(selfTestImageUrl));
    const schedule = new FaceScanSchedule(redactor.params);
    const first = schedule.next();
    const a = await redactor.redact({ encoding: 'jpeg', schemaRef: '', data: jpeg }, first.plan);
    expect(a.faceScan?.full).toBe(true);
    schedule.apply(first.index, a.faceScan!);
    const second = schedule.next();
    const b = await redactor.redact({ encoding: 'jpeg', schemaRef: '', data: jpeg }, second.plan);
    expect(b.faceScan?.full).toBe(false);
    expect(b.faceScan!.tilesScanned).toBeLessThan(b.faceScan!.tilesTotal);
    const covers = (kind: Detection['kind'], box: typeof knownFace): boolean =>
      b.detections.some((d) => d.kind === kind && containment(box, d.box) > 0.7);
    expect(covers('face', knownFace)).toBe(true);
    expect(covers('plate', knownPlateText)).toBe(true);
  });

  it('the screening model settles candidates alone and the faces confirmed stay the same', async () => {
    const params = deidParamsFor(defaultDeidConfig);
    const specs = builtinModelSpecs();
    const load = (screen: boolean): Promise<FrameDetector> =>
      FrameDetector.load({
        specs: specs.filter((s) => screen || s.role !== 'screen'),
        params,
        intraOpThreads: 1,
      });
    const [screened, unscreened] = await Promise.all([load(true), load(false)]);
    let settledAlone = 0;
    for (const file of ['street-01.jpg', 'vehicle-04.jpg', 'launch-06.jpg']) {
      const data = await readFile(new URL(`../../fixtures/deid/eval/${file}`, import.meta.url));
      const { frame } = await decodeImageSample(
        { encoding: 'jpeg', schemaRef: '', data },
        { jpegQuality: 90 },
      );
      const a = await screened.detectPlanned(frame, undefined);
      const b = await unscreened.detectPlanned(frame, undefined);
      settledAlone += a.faceScan!.screened;
      expect(b.faceScan!.screened).toBe(0);
      expect(a.faceScan!.confirmed).toEqual(b.faceScan!.confirmed);
    }
    expect(settledAlone).toBeGreaterThan(0);
  });

  it('the plate detector looking only at a changed place finds the plate there where the whole frame does', async () => {
    const spec = builtinModelSpecs().find((m) => m.kind === 'plate')!;
    const session = await InferenceSession.create(await readVerifiedModel(spec), { logSeverityLevel: 3 });
    const plates = new DbPlateDetector({
      session,
      inputSize: spec.inputSize,
      params: deidParamsFor(defaultDeidConfig),
      modelName: spec.name,
    });
    const jpeg = new Uint8Array(await readFile(selfTestImageUrl));
    const { frame } = await decodeImageSample(
      { encoding: 'jpeg', schemaRef: '', data: jpeg },
      { jpegQuality: 90 },
    );
    const whole = await plates.detect(frame);
    const near = await plates.detect(frame, { within: [{ x: 360, y: 300, w: 60, h: 30 }] });
    const far = await plates.detect(frame, { within: [{ x: 0, y: 0, w: 60, h: 60 }] });
    const plate = whole.find((d) => containment(knownPlateText, d.box) > 0.7);
    expect(plate).toBeDefined();
    const found = near.find((d) => containment(knownPlateText, d.box) > 0.7);
    expect(found).toBeDefined();
    // The same plate within a few pixels: the crop's offset is added back.
    expect(Math.abs(found!.box.x - plate!.box.x)).toBeLessThan(8);
    expect(Math.abs(found!.box.y - plate!.box.y)).toBeLessThan(8);
    expect(far.some((d) => containment(knownPlateText, d.box) > 0.3)).toBe(false);
  });

  it('the self-test refuses when nothing is found', async () => {
    await expect(runDeidSelfTest(async () => ({ detections: [] }))).rejects.toMatchObject({
      code: 'RIGCAP_DEID_SELFTEST_FAILED',
    });
  });
});
