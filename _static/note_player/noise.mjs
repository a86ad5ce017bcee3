// The page's starting noise, the same numbers as tutorial_lib.book.web_model.web_noise (Python) for a seed:
// MT19937 seeded as numpy.random.RandomState(seed), 53-bit uniforms, then Box-Muller.

/** Uniform numbers in [0, 1) of MT19937 (numpy's RandomState(seed).random_sample). */
export class MersenneTwister {
  constructor(seed) {
    this.mt = new Uint32Array(624);
    this.index = 624;
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      // 1812433253 * prev, modulo 2^32, in two halves so no precision is lost
      this.mt[i] = ((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i;
    }
  }

  nextUint32() {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** One double in [0, 1) with 53 random bits (genrand_res53). */
  random() {
    const a = this.nextUint32() >>> 5, b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

/** `n` standard normal numbers (Float32Array) for `seed`: pairs r cos(2 pi u2), r sin(2 pi u2), r = sqrt(-2 log(1 - u1)). */
export function webNoise(seed, n) {
  const rng = new MersenneTwister(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = rng.random(), u2 = rng.random();
    const r = Math.sqrt(-2 * Math.log1p(-u1)), angle = 2 * Math.PI * u2;
    out[i] = r * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = r * Math.sin(angle);
  }
  return out;
}
