// The Web Worker that makes notes: the exported U-Net in onnxruntime-web (WebAssembly, one thread), the
// samplers (sampler.mjs) and the mel decoder (decoder.mjs), so the page stays responsive while it works.
import * as ort from '../note_player_assets/ort/ort.wasm.min.mjs';
import {webNoise} from './noise.mjs';
import {integrate, CALLS_PER_STEP} from './sampler.mjs';
import {MelDecoder} from './decoder.mjs';

const ASSETS = new URL('../note_player_assets/', import.meta.url);
ort.env.wasm.wasmPaths = new URL('ort/', ASSETS).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

let spec, decoder;
const sessions = {};
let ready;

async function load(overrides = {}) {
  spec = await (await fetch(new URL('spec.json', ASSETS))).json();
  decoder = new MelDecoder(spec.decoder, spec.channels);
  for (const [name, model] of Object.entries(spec.models)) {
    const url = overrides[name] || new URL(model.file, ASSETS).href;
    sessions[name] = await ort.InferenceSession.create(url, {executionProviders: ['wasm'], graphOptimizationLevel: 'all'});
  }
  return spec;
}

/** One note: standardised latents [64, frames], audio, and (if asked) the latent after every step. */
async function generate({model, pitch = -1, source = -1, velocity = -1, guidance = 1, calls = 1, solver = 'euler',
                         seed = 0, path = false}) {
  const session = sessions[model];
  if (!session) throw new Error(`no model ${model}: the page knows ${Object.keys(sessions).join(', ')}`);
  const frames = spec.num_frames, channels = spec.channels, shape = [1, channels, frames];
  const steps = Math.max(1, Math.ceil(calls / CALLS_PER_STEP[solver]));
  const labels = {pitch: BigInt64Array.of(BigInt(pitch)), source: BigInt64Array.of(BigInt(source)),
                  velocity: BigInt64Array.of(BigInt(velocity))};
  const fixed = {guidance: new ort.Tensor('float32', Float32Array.of(guidance), [1])};
  for (const [name, value] of Object.entries(labels)) fixed[name] = new ort.Tensor('int64', value, [1]);
  let modelMs = 0;
  const velocityAt = async (x, t) => {
    const start = performance.now();
    const out = await session.run({...fixed, x: new ort.Tensor('float32', x, shape),
                                   t: new ort.Tensor('float32', Float32Array.of(t), [1])});
    modelMs += performance.now() - start;
    return out.velocity_out.data;
  };
  const noise = webNoise(seed, channels * frames);
  const trajectory = path ? [noise] : null;
  const x = await integrate(velocityAt, noise, steps, solver, (i, xi) => trajectory && trajectory.push(xi));
  const sigma = spec.models[model].sigma_data, latents = new Float32Array(x.length), codecUnits = new Float32Array(x.length);
  for (let c = 0; c < channels; c++) {
    for (let f = 0; f < frames; f++) {
      const i = c * frames + f;
      latents[i] = x[i] / sigma;
      codecUnits[i] = Math.fround(latents[i] * spec.std[c]) + spec.mean[c];  // LatentSpace.destandardise
    }
  }
  const start = performance.now();
  const audio = decoder.decode(codecUnits, frames);
  const decodeMs = performance.now() - start;
  return {latents, codecUnits, audio, trajectory, steps, calls: steps * CALLS_PER_STEP[solver],
          sampleRate: spec.decoder.sample_rate, modelMs, decodeMs};
}

self.onmessage = async ({data}) => {
  try {
    if (data.type === 'load') {
      ready = load(data.overrides);
      self.postMessage({id: data.id, result: await ready});
    } else {
      await ready;
      self.postMessage({id: data.id, result: await generate(data.request)});
    }
  } catch (error) {
    self.postMessage({id: data.id, error: String(error && error.message || error)});
  }
};
