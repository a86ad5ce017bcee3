// The note players of chapters 5, 6 and 6a: form controls, a Generate button, and the note as an <audio>
// element (a WAV) with its spectrogram. The work happens in worker.mjs; this module only draws.
// A player is a <div data-note-player="sampler|control|reflow">: the loader (_static/note_player.js) finds it.

const STYLE = `
.note-player { border: 1px solid #ccc; border-radius: 6px; padding: 0.75em; margin: 1em 0; max-width: 100%; box-sizing: border-box; }
.note-player form { display: flex; flex-wrap: wrap; gap: 0.5em 1em; align-items: flex-end; }
.note-player .np-field { display: flex; flex-direction: column; font-size: 0.9em; min-width: 7.5em; }
.note-player .np-field input[type=range] { width: 9em; max-width: 100%; }
.note-player .np-field input[type=number] { width: 5em; }
.note-player button { padding: 0.35em 1.2em; font-size: 1em; cursor: pointer; }
.note-player .np-status { font-size: 0.85em; margin: 0.5em 0; min-height: 1.2em; }
.note-player .np-note { display: flex; flex-wrap: wrap; gap: 0.5em 1em; align-items: center; }
.note-player audio { width: 300px; max-width: 100%; }
.note-player canvas.np-spectrogram { width: 192px; height: 128px; image-rendering: pixelated; border: 1px solid #ddd; }
.note-player .np-path { display: flex; flex-wrap: wrap; gap: 0.4em; margin-top: 0.5em; }
.note-player .np-path figure { margin: 0; font-size: 0.75em; text-align: center; }
.note-player .np-path canvas { width: 40px; height: 80px; image-rendering: pixelated; display: block; }
.note-player .np-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 0.75em; }
.note-player .np-grid audio { width: 100%; }
.note-player .np-grid canvas.np-spectrogram { width: 100%; height: 96px; }
.note-player .np-cell { font-size: 0.85em; min-width: 0; }
`;

let worker, nextId = 0;
const waiting = new Map();

/** The page's one worker (loaded once, shared by its players); `overrides` maps a model to another file. */
function startWorker(overrides) {
  if (worker) return worker.ready;
  worker = new Worker(new URL('./worker.mjs', import.meta.url), {type: 'module'});
  worker.onmessage = ({data}) => {
    const {resolve, reject} = waiting.get(data.id);
    waiting.delete(data.id);
    data.error ? reject(new Error(data.error)) : resolve(data.result);
  };
  worker.ready = call({type: 'load', overrides});
  return worker.ready;
}

function call(message) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, {resolve, reject});
    worker.postMessage({...message, id});
  });
}

/** 16-bit mono WAV bytes of `audio`, scaled down (never up) when it would clip, as generation.write_wav. */
export function wavBytes(audio, sampleRate) {
  let peak = 0;
  for (const v of audio) peak = Math.max(peak, Math.abs(v));
  const scale = peak > 0.99 ? 0.99 / peak : 1, bytes = new DataView(new ArrayBuffer(44 + 2 * audio.length));
  const text = (at, s) => [...s].forEach((c, i) => bytes.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF'); bytes.setUint32(4, 36 + 2 * audio.length, true); text(8, 'WAVEfmt ');
  bytes.setUint32(16, 16, true); bytes.setUint16(20, 1, true); bytes.setUint16(22, 1, true);
  bytes.setUint32(24, sampleRate, true); bytes.setUint32(28, 2 * sampleRate, true);
  bytes.setUint16(32, 2, true); bytes.setUint16(34, 16, true); text(36, 'data'); bytes.setUint32(40, 2 * audio.length, true);
  audio.forEach((v, i) => bytes.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(v * scale * 32767))), true));
  return bytes.buffer;
}

/** Draws `values` [rows, cols] (row 0 at the bottom) on `canvas`, colour = `colour(value)`. */
function drawMatrix(canvas, values, rows, cols, colour) {
  canvas.width = cols; canvas.height = rows;
  const context = canvas.getContext('2d'), image = context.createImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [red, green, blue] = colour(values[r * cols + c]), at = 4 * ((rows - 1 - r) * cols + c);
      image.data.set([red, green, blue, 255], at);
    }
  }
  context.putImageData(image, 0, 0);
}

const clamp01 = v => Math.max(0, Math.min(1, v));
/** Dark blue -> green -> yellow (a viridis-like ramp) for log-mel levels from log(eps) up. */
const spectrumColour = low => v => {
  const x = clamp01((v - low) / (2.5 - low));
  return [255 * clamp01(2 * x - 0.8), 255 * clamp01(0.1 + 1.1 * x), 255 * clamp01(0.45 + 0.5 * Math.sin(Math.PI * x) - 0.5 * x)];
};
/** Blue (-3) -> white (0) -> red (+3) for standardised latents. */
const latentColour = v => {
  const x = clamp01(Math.abs(v) / 3), fade = 255 * (1 - x);
  return v < 0 ? [fade, fade, 255] : [255, fade, fade];
};

function element(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) k === 'text' ? (e.textContent = v) : e.setAttribute(k, v);
  e.append(...children);
  return e;
}

let uid = 0;
/** A labelled control: its accessible name is exactly `name`; `input` its attributes; `show` a shown value. */
function field(form, name, tag, attributes, options) {
  const id = `np-${uid++}`, control = element(tag, {id, name, ...attributes});
  for (const [value, text] of options || []) control.append(element('option', {value, text}));
  if (attributes.value !== undefined) control.value = attributes.value;
  const box = element('div', {class: 'np-field'}, element('label', {for: id, text: name}), control);
  if (attributes.type === 'range') {
    const shown = element('output', {for: id, text: control.value, 'aria-hidden': 'true'});
    control.addEventListener('input', () => { shown.textContent = control.value; });
    box.append(shown);
  }
  form.append(box);
  return control;
}

function noteView(result, caption, autoplay) {
  const url = URL.createObjectURL(new Blob([wavBytes(result.audio, result.sampleRate)], {type: 'audio/wav'}));
  const audio = element('audio', {controls: '', src: url, preload: 'auto', 'aria-label': `${caption}: the note`});
  const canvas = element('canvas', {class: 'np-spectrogram', role: 'img',
    'aria-label': `${caption}: log-mel spectrogram, 64 bands from 30 Hz (bottom) to 4000 Hz (top) over ${(result.audio.length / result.sampleRate).toFixed(1)} s`});
  drawMatrix(canvas, result.codecUnits, 64, result.codecUnits.length / 64, spectrumColour(Math.log(1e-3)));
  if (autoplay) audio.play().catch(() => {});
  return {audio, canvas};
}

function pathView(result) {
  const strip = element('div', {class: 'np-path', role: 'group', 'aria-label': 'the latent after each step, from noise (left) to the note'});
  const path = result.trajectory, shown = Math.min(path.length, 9);
  for (let k = 0; k < shown; k++) {
    const i = Math.round(k * (path.length - 1) / Math.max(1, shown - 1)), t = 1 - i / result.steps;
    const canvas = element('canvas', {role: 'img', 'aria-label': `latent at t = ${t.toFixed(2)}`});
    drawMatrix(canvas, path[i], 64, path[i].length / 64, latentColour);
    strip.append(element('figure', {}, canvas, element('figcaption', {text: `t = ${t.toFixed(2)}`})));
  }
  return strip;
}

const SOURCES = [['0', 'acoustic'], ['1', 'electronic'], ['2', 'synthetic'], ['-1', 'any']];

function build(root, spec) {
  const kind = root.dataset.notePlayer, held = spec.labels_held;
  root.replaceChildren();
  root.classList.add('note-player');
  const form = element('form', {'aria-label': 'note player controls'});
  const status = element('p', {class: 'np-status', role: 'status', 'aria-live': 'polite', text: 'Ready.'});
  const output = element('div', {class: 'np-result'});
  const c = {};
  const pitches = held.pitch;
  if (kind !== 'sampler') {
    c.pitch = field(form, 'pitch', 'input', {type: 'range', min: pitches[0], max: pitches[pitches.length - 1], step: 1, value: 60});
    c.source = field(form, 'source', 'select', {value: '0'}, SOURCES);
    c.velocity = field(form, 'velocity', 'input', {type: 'range', min: 1, max: 127, step: 1, value: 127});
    c.guidance = field(form, 'guidance', 'input', {type: 'range', min: 0, max: 5, step: 0.5, value: 1});
  }
  if (kind === 'control') {
    c.model = field(form, 'model', 'select', {value: 'first'},
                    [['first', 'first (chapters 4-6)'], ['reflowed', 'reflowed (chapter 6a)']]);
  }
  if (kind !== 'reflow') {
    c.calls = field(form, 'model calls', 'input', {type: 'number', min: 1, max: 64, step: 1, value: kind === 'sampler' ? 16 : 8});
  }
  if (kind === 'sampler') {
    c.solver = field(form, 'solver', 'select', {value: 'euler'}, [['euler', 'Euler'], ['heun', 'Heun'], ['midpoint', 'midpoint']]);
  }
  c.seed = field(form, 'seed', 'input', {type: 'number', min: 0, max: 4294967295, step: 1, value: 0});
  const button = element('button', {type: 'submit', text: 'Generate'});
  form.append(button);
  root.append(form, status, output);

  form.addEventListener('submit', async event => {
    event.preventDefault();
    const clicked = performance.now();
    button.disabled = true;
    status.textContent = 'Making the note…';
    const value = name => Number(c[name].value);
    const base = {seed: value('seed'), guidance: c.guidance ? value('guidance') : 1,
                  pitch: c.pitch ? value('pitch') : -1, source: c.source ? value('source') : -1,
                  velocity: c.velocity ? value('velocity') : -1};
    try {
      let results;
      if (kind === 'reflow') {
        const asks = [];
        for (const model of ['first', 'reflowed']) for (const calls of [1, 2, 50]) asks.push({...base, model, calls});
        results = [];
        for (const ask of asks) results.push([ask, await call({request: ask})]);
        const grid = element('div', {class: 'np-grid'});
        for (const [ask, result] of results) {
          const caption = `${ask.model} model, ${result.calls} call${result.calls > 1 ? 's' : ''}`;
          const {audio, canvas} = noteView(result, caption, false);
          grid.append(element('div', {class: 'np-cell'}, element('div', {text: caption}), audio, canvas));
        }
        output.replaceChildren(grid);
      } else {
        const ask = {...base, model: c.model ? c.model.value : 'first', calls: Math.min(64, Math.max(1, value('calls'))),
                     solver: c.solver ? c.solver.value : 'euler', path: kind === 'sampler'};
        const result = await call({request: ask});
        results = [[ask, result]];
        const {audio, canvas} = noteView(result, 'generated note', true);
        output.replaceChildren(element('div', {class: 'np-note'}, audio, canvas));
        if (result.trajectory) output.append(pathView(result));
      }
      const audios = [...output.querySelectorAll('audio')];
      await Promise.all(audios.map(a => a.readyState >= 2 ? null : new Promise(r => a.addEventListener('loadeddata', r, {once: true}))));
      const ms = performance.now() - clicked;
      const model = results.reduce((s, [, r]) => s + r.modelMs, 0), decode = results.reduce((s, [, r]) => s + r.decodeMs, 0);
      status.textContent = `Made in your browser in ${Math.round(ms)} ms: the network ${Math.round(model)} ms, the decoder ${Math.round(decode)} ms.`;
      root.lastResult = {results: results.map(([ask, r]) => ({ask, latents: Array.from(r.latents), calls: r.calls,
                                                              audio: Array.from(r.audio), modelMs: r.modelMs,
                                                              decodeMs: r.decodeMs})),
                         clickToSoundMs: ms};
      root.dispatchEvent(new CustomEvent('note-ready', {detail: root.lastResult}));
    } catch (error) {
      status.textContent = `The note could not be made: ${error.message}`;
      root.dispatchEvent(new CustomEvent('note-failed', {detail: error.message}));
    } finally {
      button.disabled = false;
    }
  });
}

/** Turns every player on the page into its controls (after the worker has loaded the models). */
export async function start(overrides = window.notePlayerOverrides || {}) {
  const roots = [...document.querySelectorAll('[data-note-player]')];
  if (!roots.length) return;
  document.head.append(element('style', {text: STYLE}));
  for (const root of roots) root.setAttribute('aria-busy', 'true');
  try {
    const spec = await startWorker(overrides);
    for (const root of roots) { build(root, spec); root.removeAttribute('aria-busy'); root.dataset.ready = 'true'; }
  } catch (error) {
    for (const root of roots) root.append(element('p', {class: 'np-status', text: `The player could not start: ${error.message}`}));
  }
}
