// The ODE samplers of tutorial_lib.sampling, step for step in float32: Euler (the original tutorial's), Heun and the
// midpoint rule, from noise at t = 1 down to a note at t = 0 (chapter 5).

/** [steps + 1] times from 1 down to 0 (sampling.time_grid, "uniform"), as float32 like torch's. */
export function timeGrid(steps) {
  const n = steps + 1, step = 1 / steps, halfway = Math.floor(n / 2), times = new Float32Array(n);
  for (let i = 0; i < n; i++) times[i] = 1 - (i < halfway ? i * step : 1 - step * (n - 1 - i));  // torch.linspace
  return times;
}

export const CALLS_PER_STEP = {euler: 1, heun: 2, midpoint: 2};

/** a + h b, rounded to float32 as torch computes `a + h * b` (h a Python float). */
function axpy(a, h, b) {
  const hf = Math.fround(h), out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + Math.fround(hf * b[i]);
  return out;
}

/**
 * Integrates dx/dt = -f(x, t) from `noise` along timeGrid(steps) with `solver`; `velocity(x, t)` is async
 * (one model call). Calls `onStep(i, x)` after every step. Returns the end point (Float32Array).
 */
export async function integrate(velocity, noise, steps, solver, onStep = () => {}) {
  const times = timeGrid(steps);
  let x = noise;
  for (let i = 0; i < steps; i++) {
    const t = times[i], next = times[i + 1], h = t - next;
    if (solver === 'euler') {
      x = axpy(x, h, await velocity(x, t));
    } else if (solver === 'heun') {
      const v = await velocity(x, t);
      const guess = axpy(x, h, v);
      const v2 = await velocity(guess, next), sum = new Float32Array(x.length);
      for (let j = 0; j < sum.length; j++) sum[j] = v[j] + v2[j];
      x = axpy(x, h * 0.5, sum);
    } else if (solver === 'midpoint') {
      const half = axpy(x, 0.5 * h, await velocity(x, t));
      x = axpy(x, h, await velocity(half, Math.fround(t - 0.5 * h)));
    } else {
      throw new Error(`solver must be euler, heun or midpoint, got ${solver}`);
    }
    onStep(i + 1, x);
  }
  return x;
}
