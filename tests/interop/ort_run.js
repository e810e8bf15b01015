// Runs a model in ONNX Runtime (npm onnxruntime-node, CPU) on raw tensors, for OpStudio's interop
// tests and benchmarks.
//   node ort_run.js run   MODEL IN_DIR OUT_DIR [--threads N] [--opt disabled|basic|extended|all]
//   node ort_run.js bench MODEL IN_DIR [--threads N] [--opt LEVEL] [--runs N] [--warmup N]
// IN_DIR/manifest.json: [{"name", "dtype", "shape", "file"}] with raw little-endian data files;
// `run` writes OUT_DIR/manifest.json and raw outputs the same way; `bench` prints
// {"median_ms", "p10_ms", "p90_ms", "runs"} as JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

const kTypedArrays = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array,
};

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

function readFeeds(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const feeds = {};
  for (const t of manifest) {
    const bytes = fs.readFileSync(path.join(dir, t.file));
    const Ctor = kTypedArrays[t.dtype];
    if (!Ctor) throw new Error(`unsupported dtype ${t.dtype} for input ${t.name}`);
    const buf = new ArrayBuffer(bytes.length);
    new Uint8Array(buf).set(bytes);
    const data = new Ctor(buf);
    feeds[t.name] = new ort.Tensor(t.dtype, t.dtype === 'bool' ? Uint8Array.from(data) : data, t.shape);
  }
  return feeds;
}

async function makeSession(model, args) {
  const threads = parseInt(option(args, '--threads', '1'), 10);
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: option(args, '--opt', 'all'),
  });
}

function percentile(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((sorted.length - 1) * p)));
  return sorted[i];
}

async function main() {
  const [mode, model, inDir, ...rest] = process.argv.slice(2);
  const session = await makeSession(model, rest);
  const feeds = readFeeds(inDir);
  if (mode === 'run') {
    const outDir = rest[0];
    const results = await session.run(feeds);
    fs.mkdirSync(outDir, { recursive: true });
    const manifest = [];
    session.outputNames.forEach((name, i) => {
      const t = results[name];
      const file = `output_${i}.bin`;
      fs.writeFileSync(path.join(outDir, file), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      manifest.push({ name, dtype: t.type, shape: t.dims.map(Number), file });
    });
    fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest));
  } else if (mode === 'bench') {
    const runs = parseInt(option(rest, '--runs', '20'), 10);
    const warmup = parseInt(option(rest, '--warmup', '3'), 10);
    for (let i = 0; i < warmup; ++i) await session.run(feeds);
    const times = [];
    for (let i = 0; i < runs; ++i) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ median_ms: percentile(times, 0.5), p10_ms: percentile(times, 0.1),
                                 p90_ms: percentile(times, 0.9), runs }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
