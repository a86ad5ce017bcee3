// The mel codec's decoder (tutorial_lib.codec.MelCodec.decode), in float64 as the library computes it:
// log-mel latents -> mel magnitudes -> STFT magnitudes (clipped pseudo-inverse, then NNLS multiplicative
// updates) -> audio by Griffin-Lim (librosa.griffinlim: momentum 0.99, phases started from
// numpy.random.RandomState(0), periodic Hann window, centred frames).
import {MersenneTwister} from './noise.mjs';

/** In-place radix-2 complex FFT of size n (a power of 2); sign -1 forward, +1 inverse (unscaled). */
class FFT {
  constructor(n) {
    this.n = n;
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos(2 * Math.PI * k / n);
      this.sin[k] = Math.sin(2 * Math.PI * k / n);
    }
    this.reverse = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      this.reverse[i] = r;
    }
  }

  transform(re, im, sign) {
    const n = this.n, rev = this.reverse;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i]; re[i] = re[j]; re[j] = t;
        t = im[i]; im[i] = im[j]; im[j] = t;
      }
    }
    for (let i = 0; i < n; i += 2) {  // size 2: no twiddles
      const tr = re[i + 1], ti = im[i + 1];
      re[i + 1] = re[i] - tr; im[i + 1] = im[i] - ti;
      re[i] += tr; im[i] += ti;
    }
    for (let size = 4; size <= n; size <<= 1) {
      const half = size >>> 1, step = n / size;
      for (let k = 0; k < half; k++) {  // one twiddle for every block
        const c = this.cos[k * step], s = sign * this.sin[k * step];
        for (let a = k; a < n; a += size) {
          const b = a + half;
          const tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c;
          re[b] = re[a] - tr; im[b] = im[a] - ti;
          re[a] += tr; im[a] += ti;
        }
      }
    }
  }
}

export class MelDecoder {
  /** `spec`: page_spec()["decoder"] (sample_rate, n_fft, hop_length, eps, iterations, bands). */
  constructor(spec, channels = 64) {
    Object.assign(this, spec);
    this.channels = channels;
    this.bins = spec.n_fft / 2 + 1;
    this.fft = new FFT(spec.n_fft);
    const n = spec.n_fft;
    this.window = new Float64Array(n);
    for (let i = 0; i < n; i++) this.window[i] = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / n);  // periodic Hann
    this.pinv = this.pseudoInverse();
  }

  /** (B B^T)^-1 [64, 64] for the pseudo-inverse B^T (B B^T)^-1 of the filter bank B [64, bins]. */
  pseudoInverse() {
    const m = this.channels, gram = new Float64Array(m * m), inv = new Float64Array(m * m);
    for (let a = 0; a < m; a++) {
      const [sa, wa] = this.bands[a];
      for (let b = 0; b < m; b++) {
        const [sb, wb] = this.bands[b];
        let sum = 0;
        for (let i = 0; i < wa.length; i++) {
          const j = sa + i - sb;
          if (j >= 0 && j < wb.length) sum += wa[i] * wb[j];
        }
        gram[a * m + b] = sum;
      }
      inv[a * m + a] = 1;
    }
    for (let col = 0; col < m; col++) {  // Gauss-Jordan with partial pivoting
      let pivot = col;
      for (let r = col + 1; r < m; r++) if (Math.abs(gram[r * m + col]) > Math.abs(gram[pivot * m + col])) pivot = r;
      for (let c = 0; c < m; c++) {
        [gram[col * m + c], gram[pivot * m + c]] = [gram[pivot * m + c], gram[col * m + c]];
        [inv[col * m + c], inv[pivot * m + c]] = [inv[pivot * m + c], inv[col * m + c]];
      }
      const d = gram[col * m + col];
      for (let c = 0; c < m; c++) { gram[col * m + c] /= d; inv[col * m + c] /= d; }
      for (let r = 0; r < m; r++) {
        if (r === col) continue;
        const f = gram[r * m + col];
        if (f === 0) continue;
        for (let c = 0; c < m; c++) { gram[r * m + c] -= f * gram[col * m + c]; inv[r * m + c] -= f * inv[col * m + c]; }
      }
    }
    return inv;
  }

  /** B^T y for y [64] -> out [bins] (only the bins some band covers are touched; out is zeroed first). */
  transposeTimes(y, out) {
    out.fill(0);
    for (let a = 0; a < this.channels; a++) {
      const [start, w] = this.bands[a];
      for (let i = 0; i < w.length; i++) out[start + i] += w[i] * y[a];
    }
  }

  /** mel [64, frames] (row-major Float64Array) -> STFT magnitudes [bins, frames] (MelCodec.mel_to_magnitude). */
  melToMagnitude(mel, frames) {
    const m = this.channels, bins = this.bins, out = new Float64Array(bins * frames);
    const column = new Float64Array(m), solved = new Float64Array(m), mag = new Float64Array(bins);
    const numerator = new Float64Array(bins), denominator = new Float64Array(bins), projected = new Float64Array(m);
    for (let f = 0; f < frames; f++) {
      for (let a = 0; a < m; a++) column[a] = mel[a * frames + f];
      for (let a = 0; a < m; a++) {
        let s = 0;
        for (let b = 0; b < m; b++) s += this.pinv[a * m + b] * column[b];
        solved[a] = s;
      }
      this.transposeTimes(solved, mag);
      for (let k = 0; k < bins; k++) mag[k] = Math.max(mag[k], 0) + 1e-10;
      this.transposeTimes(column, numerator);
      for (let it = 0; it < this.nnls_iters; it++) {
        for (let a = 0; a < m; a++) {
          const [start, w] = this.bands[a];
          let s = 0;
          for (let i = 0; i < w.length; i++) s += w[i] * mag[start + i];
          projected[a] = s;
        }
        this.transposeTimes(projected, denominator);
        for (let k = 0; k < bins; k++) mag[k] *= numerator[k] / (denominator[k] + 1e-12);
      }
      for (let k = 0; k < bins; k++) out[k * frames + f] = mag[k];
    }
    return out;
  }

  /** 1 / (sum of the squared windows) at each output sample, or 1 where it is 0 (librosa.istft). */
  windowNormaliser(frames) {
    if (this.normaliserFrames === frames) return this.normaliser;
    const n = this.n_fft, hop = this.hop_length, half = n / 2, length = hop * (frames - 1);
    const sumSquare = new Float64Array(n + hop * (frames - 1));
    for (let f = 0; f < frames; f++) for (let i = 0; i < n; i++) sumSquare[f * hop + i] += this.window[i] ** 2;
    this.normaliser = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      const w = sumSquare[i + half];
      this.normaliser[i] = w > 2.2250738585072014e-308 ? 1 / w : 1;
    }
    this.normaliserFrames = frames;
    return this.normaliser;
  }

  /** Inverse STFT of spectra re/im [frames, bins] -> audio [hop (frames - 1)] (librosa.istft, centred). */
  istft(re, im, frames) {
    const n = this.n_fft, hop = this.hop_length, bins = this.bins, half = n / 2;
    const full = new Float64Array(n + hop * (frames - 1));
    const zr = this.zr, zi = this.zi, win = this.window;
    for (let f = 0; f < frames; f += 2) {  // two real frames per complex FFT: a + i b
      const two = f + 1 < frames, A = f * bins, B = (f + 1) * bins;
      for (let k = 0; k < bins; k++) {
        const edge = k === 0 || k === bins - 1;  // numpy's irfft ignores the imaginary part there
        const ar = re[A + k], ai = edge ? 0 : im[A + k];
        const br = two ? re[B + k] : 0, bi = two && !edge ? im[B + k] : 0;
        zr[k] = ar - bi; zi[k] = ai + br;  // A[k] + i B[k]
        if (!edge) { zr[n - k] = ar + bi; zi[n - k] = br - ai; }  // conj(A[k]) + i conj(B[k])
      }
      this.fft.transform(zr, zi, 1);
      const o = f * hop;
      for (let i = 0; i < n; i++) full[o + i] += win[i] * zr[i];
      if (two) for (let i = 0; i < n; i++) full[o + hop + i] += win[i] * zi[i];
    }
    const norm = this.windowNormaliser(frames), out = new Float64Array(norm.length);
    for (let i = 0; i < out.length; i++) out[i] = full[i + half] / n * norm[i];
    return out;
  }

  /** Centred STFT (zero padding, periodic Hann) of audio -> re/im [frames, bins] (librosa.stft). */
  stft(audio, frames, re, im) {
    const n = this.n_fft, hop = this.hop_length, bins = this.bins, half = n / 2;
    const zr = this.zr, zi = this.zi, win = this.window, length = audio.length;
    for (let f = 0; f < frames; f += 2) {
      const two = f + 1 < frames, A = f * bins, B = (f + 1) * bins;
      for (let i = 0; i < n; i++) {
        const p = f * hop + i - half, q = p + hop;
        zr[i] = p >= 0 && p < length ? audio[p] * win[i] : 0;
        zi[i] = two && q >= 0 && q < length ? audio[q] * win[i] : 0;
      }
      this.fft.transform(zr, zi, -1);
      for (let k = 0; k < bins; k++) {
        const j = (n - k) & (n - 1);
        re[A + k] = 0.5 * (zr[k] + zr[j]); im[A + k] = 0.5 * (zi[k] - zi[j]);
        if (two) { re[B + k] = 0.5 * (zi[k] + zi[j]); im[B + k] = -0.5 * (zr[k] - zr[j]); }
      }
    }
  }

  /** Griffin-Lim from STFT magnitudes [bins, frames] (librosa.griffinlim, random_state 0). */
  griffinLim(magnitudeByBin, frames) {
    const bins = this.bins, size = bins * frames, rng = new MersenneTwister(this.griffin_lim_seed);
    const magnitude = new Float64Array(size), re = new Float64Array(size), im = new Float64Array(size);
    for (let k = 0; k < bins; k++) {  // numpy draws the phases in [bins, frames] order; kept as [frames, bins]
      for (let f = 0; f < frames; f++) {
        const phase = 2 * Math.PI * rng.random(), m = magnitudeByBin[k * frames + f], i = f * bins + k;
        magnitude[i] = m; re[i] = Math.cos(phase) * m; im[i] = Math.sin(phase) * m;
      }
    }
    this.zr = new Float64Array(this.n_fft); this.zi = new Float64Array(this.n_fft);
    let rebuiltRe = new Float64Array(size), rebuiltIm = new Float64Array(size);
    let prevRe = new Float64Array(size), prevIm = new Float64Array(size);
    const c = this.momentum / (1 + this.momentum);
    for (let it = 0; it < this.griffin_lim_iters; it++) {
      this.stft(this.istft(re, im, frames), frames, rebuiltRe, rebuiltIm);
      const momentum = it > 0 ? c : 0;
      for (let i = 0; i < size; i++) {
        const r = rebuiltRe[i] - momentum * prevRe[i], m = rebuiltIm[i] - momentum * prevIm[i];
        const scale = magnitude[i] / (Math.sqrt(r * r + m * m) + 2.2250738585072014e-308);
        re[i] = r * scale; im[i] = m * scale;
      }
      [prevRe, rebuiltRe] = [rebuiltRe, prevRe]; [prevIm, rebuiltIm] = [rebuiltIm, prevIm];
    }
    return this.istft(re, im, frames);
  }

  /** Latents in the codec's own units (log-mel) [64, frames], Float32Array -> audio (Float32Array). */
  decode(logMel, frames) {
    const mel = new Float64Array(logMel.length);
    for (let i = 0; i < mel.length; i++) mel[i] = Math.max(Math.exp(logMel[i]) - this.eps, 0);
    return Float32Array.from(this.griffinLim(this.melToMagnitude(mel, frames), frames));
  }
}
