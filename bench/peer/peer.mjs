// The Node peer stack of docs/performance.md, run by `vsearch bench --peer bench/peer` on the images the
// bench generated: sharp (libvips, shrink-on-load for JPEG) decodes and resizes, onnxruntime-node runs the
// same ResNet18 with the same preprocessing (shorter side to 224, centre crop, B,G,R planes 0-255 minus the
// mean image read from ResNetPreprocess.onnx). One thread everywhere (libvips, the libuv pool, ONNX Runtime).
//   node peer.mjs --images DIR --model ResNet18.onnx --mean ResNetPreprocess.onnx [--reps N]
//   node peer.mjs --only ingest --shard I/N --images DIR --model M --mean P   (ingest only: every Nth photo of
//     DIR/ingest from the Ith; what `vsearch bench` times as a whole process, per core and on all cores)
// Prints one JSON object on stdout. --model may be the int8 model vsearch built (the same QDQ file).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import ort from 'onnxruntime-node';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const imagesDir = args.images;
const reps = Number(args.reps ?? 15);
const size = 224;
sharp.concurrency(1);
sharp.cache(false);

const sessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};
const session = await ort.InferenceSession.create(args.model, sessionOptions);
const meanSession = await ort.InferenceSession.create(args.mean);

// The graph computes x - mean: on zeros it gives -mean.
const zeros = new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]);
const meanOut = await meanSession.run({ [meanSession.inputNames[0]]: zeros });
const mean = Float32Array.from(meanOut[meanSession.outputNames[0]].data, v => -v);

async function prepare(bytes) {
  const { data } = await sharp(bytes, { failOn: 'error' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = size * size;
  const tensor = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    const i = p * 3;
    tensor[p] = data[i + 2] - mean[p];
    tensor[plane + p] = data[i + 1] - mean[plane + p];
    tensor[2 * plane + p] = data[i] - mean[2 * plane + p];
  }
  return tensor;
}

async function embed(tensor) {
  const input = new ort.Tensor('float32', tensor, [1, 3, size, size]);
  const out = await session.run({ [session.inputNames[0]]: input }, [session.outputNames[0]]);
  const v = out[session.outputNames[0]].data;
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return Array.from(v, x => x / norm);
}

if (args.only === 'ingest') {
  const [shard, shards] = (args.shard ?? '0/1').split('/').map(Number);
  const dir = join(imagesDir, 'ingest');
  const files = readdirSync(dir).sort().filter((_, i) => i % shards === shard).map(n => join(dir, n));
  for (const file of files) await embed(await prepare(readFileSync(file)));
  console.log(JSON.stringify({ ingestImages: files.length }));
  process.exit(0);
}

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

const decodeMs = {};
for (const name of readdirSync(imagesDir).filter(n => !n.startsWith('.')).sort()) {
  const path = join(imagesDir, name);
  if (!/\.(jpe?g|png|webp)$/i.test(name)) continue;
  const bytes = readFileSync(path);
  await prepare(bytes);
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t = now();
    await prepare(bytes);
    times.push(now() - t);
  }
  decodeMs[name] = median(times);
}

const sample = await prepare(readFileSync(join(imagesDir, 'jpeg-12mp.jpg')));
await embed(sample);
const embedTimes = [];
let firstEmbedding = null;
for (let r = 0; r < reps; r++) {
  const t = now();
  const e = await embed(sample);
  embedTimes.push(now() - t);
  firstEmbedding ??= e;
}

// Ingest: read, decode + preprocess, embed, one image after another.
const ingestDir = join(imagesDir, 'ingest');
const ingestFiles = readdirSync(ingestDir).sort().map(n => join(ingestDir, n));
await embed(await prepare(readFileSync(ingestFiles[0])));
const start = now();
for (const file of ingestFiles) await embed(await prepare(readFileSync(file)));
const seconds = (now() - start) / 1000;

console.log(JSON.stringify({
  stack: `node ${process.versions.node}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), onnxruntime-node ${ort.env.versions?.node ?? 'unknown'}`,
  threads: 1,
  decodeMs,
  embedMs: median(embedTimes),
  ingestImages: ingestFiles.length,
  ingestImagesPerSecond: ingestFiles.length / seconds,
  embedding12mp: firstEmbedding,
}));
