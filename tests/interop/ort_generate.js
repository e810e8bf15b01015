// Greedy KV-cache generation in ONNX Runtime (npm onnxruntime-node, CPU): the peer of
// `opstudio-cli generate` for decode benchmarks. Same loop: prompt in one run (prefill), then one
// token per run with past_key_values.N.* = the previous present.N.*.
//   node ort_generate.js MODEL --prompt TEXT --tokens N [--threads T] [--opt disabled|basic|extended|all]
// Prints {"tokens", "prefill_ms", "decode_tokens_per_second", "decode_steps"} as JSON.
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

async function main() {
  const [model, ...args] = process.argv.slice(2);
  const prompt = Buffer.from(option(args, '--prompt', 'The'), 'utf8');
  const tokens = parseInt(option(args, '--tokens', '32'), 10);
  const threads = parseInt(option(args, '--threads', '1'), 10);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: option(args, '--opt', 'all'),
  });
  const pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const meta = session.inputMetadata ? session.inputMetadata : null;
  // kv_heads and head_dim from the first past input's metadata when available, else from a probe.
  let kvHeads = 0, headDim = 0;
  if (meta && meta.length) {
    const m = meta.find((x) => x.name === pastNames[0]);
    if (m && m.shape) { kvHeads = Number(m.shape[1]); headDim = Number(m.shape[3]); }
  }
  if (!(kvHeads > 0 && headDim > 0)) throw new Error('cannot read kv_heads/head_dim from ' + pastNames[0]);
  const feedsFor = (ids, past, pastLen) => {
    const s = ids.length;
    const f = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, s]),
    };
    if (session.inputNames.includes('attention_mask'))
      f.attention_mask = new ort.Tensor('int64', new BigInt64Array(pastLen + s).fill(1n), [1, pastLen + s]);
    if (session.inputNames.includes('position_ids'))
      f.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: s }, (_, i) => BigInt(pastLen + i)), [1, s]);
    pastNames.forEach((n, i) => { f[n] = past[i]; });
    return f;
  };
  const argmax = (data, off, v) => {
    let best = 0;
    for (let i = 1; i < v; ++i) if (data[off + i] > data[off + best]) best = i;
    return best;
  };
  let past = pastNames.map(() => new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]));
  const out = [];
  const t0 = process.hrtime.bigint();
  let r = await session.run(feedsFor(Array.from(prompt), past, 0));
  const prefillMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const v = r.logits.dims[2];
  let tok = argmax(r.logits.data, (prompt.length - 1) * v, v);
  out.push(tok);
  let pastLen = prompt.length;
  past = pastNames.map((n) => r[n.replace('past_key_values.', 'present.')]);
  let decodeNs = 0n;
  for (let i = 1; i < tokens; ++i) {
    const t1 = process.hrtime.bigint();
    r = await session.run(feedsFor([tok], past, pastLen));
    decodeNs += process.hrtime.bigint() - t1;
    tok = argmax(r.logits.data, 0, v);
    out.push(tok);
    pastLen += 1;
    past = pastNames.map((n) => r[n.replace('past_key_values.', 'present.')]);
  }
  const steps = tokens - 1;
  console.log(JSON.stringify({
    tokens: out, prefill_ms: prefillMs, decode_steps: steps,
    decode_tokens_per_second: steps > 0 ? steps / (Number(decodeNs) / 1e9) : 0,
  }));
}

main().catch((e) => { console.error('error: ' + e.message); process.exit(1); });
