/** Audio checks for tests: which frequency is in a signal, and how alike two signals are. */

/** Power of `frequency` in `pcm` relative to the signal's total power (0…1), by Goertzel. */
export function toneShare(pcm: Int16Array, frequency: number, rate = 8000): number {
  if (pcm.length === 0) return 0;
  const k = (2 * Math.PI * frequency) / rate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of pcm) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (pcm.length * energy);
}

/** The strongest frequency between 50 Hz and just under Nyquist, in `step` Hz. */
export function dominantFrequency(pcm: Int16Array, rate = 8000, step = 10): number {
  let best = 0;
  let bestShare = -1;
  for (let f = 50; f < rate / 2 - step; f += step) {
    const share = toneShare(pcm, f, rate);
    if (share > bestShare) {
      bestShare = share;
      best = f;
    }
  }
  return best;
}

/** RMS level (0…32767). */
export function rms(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (const x of pcm) sum += x * x;
  return Math.sqrt(sum / pcm.length);
}

/**
 * The best normalised cross-correlation of `reference` inside `signal`, trying every lag up to
 * `maxLag` samples (the signal may start with silence); 1 means identical up to scale.
 */
export function correlation(signal: Int16Array, reference: Int16Array, maxLag = 8000): { value: number; lag: number } {
  let best = { value: -1, lag: 0 };
  const n = Math.min(reference.length, signal.length);
  for (let lag = 0; lag <= Math.min(maxLag, signal.length - Math.floor(n / 2)); lag++) {
    const length = Math.min(reference.length, signal.length - lag);
    if (length <= 0) break;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < length; i++) {
      const x = signal[lag + i]!;
      const y = reference[i]!;
      sxy += x * y;
      sxx += x * x;
      syy += y * y;
    }
    const value = sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
    if (value > best.value) best = { value, lag };
  }
  return best;
}

/** 16-bit PCM samples of a PCM WAV file (the data chunk, whatever other chunks there are). */
export function wavSamples(wav: Uint8Array): { rate: number; samples: Int16Array } {
  const bytes = Buffer.from(wav);
  let offset = 12;
  let rate = 8000;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    if (id === 'fmt ') rate = bytes.readUInt32LE(offset + 12);
    if (id === 'data') {
      const data = Buffer.from(bytes.subarray(offset + 8, offset + 8 + Math.min(size, bytes.length - offset - 8)));
      return { rate, samples: new Int16Array(data.buffer, data.byteOffset, Math.floor(data.length / 2)) };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error('not a WAV file with a data chunk');
}

/**
 * The largest share of `frequency` in any window of `windowMs` (hops of half a window): whether a
 * tone was heard somewhere in a longer recording of prompts and messages.
 */
export function peakToneShare(pcm: Int16Array, frequency: number, windowMs = 200, rate = 8000): number {
  const size = Math.round((rate * windowMs) / 1000);
  let peak = 0;
  for (let start = 0; start + size <= pcm.length; start += Math.max(1, size >> 1)) {
    const window = pcm.subarray(start, start + size);
    if (rms(window) > 100) peak = Math.max(peak, toneShare(window, frequency, rate));
  }
  return peak;
}
