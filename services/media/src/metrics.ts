/** What media counts for Prometheus, beyond the request metrics every service has. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface MediaMetrics {
  digits: Counter<'source'>;
  playbacks: Counter<'reason'>;
  recordings: Counter<'codec'>;
}

export function mediaMetrics(registry: Registry, openSessions: () => number): MediaMetrics {
  new Gauge({
    name: 'sipvm_media_sessions',
    help: 'Media sessions open on this instance',
    registers: [registry],
    collect() {
      this.set(openSessions());
    },
  });
  return {
    digits: new Counter({ name: 'sipvm_media_digits_total', help: 'Digit events published, by source', labelNames: ['source'], registers: [registry] }),
    playbacks: new Counter({ name: 'sipvm_media_playbacks_total', help: 'Playbacks finished, by reason', labelNames: ['reason'], registers: [registry] }),
    recordings: new Counter({
      name: 'sipvm_media_recordings_total',
      help: 'Recordings staged as WAV, by caller codec',
      labelNames: ['codec'],
      registers: [registry],
    }),
  };
}

/** How long rtpengine takes to answer each ng command: its control plane under load. */
export function rtpengineLatency(registry: Registry): Histogram<'command' | 'outcome'> {
  return new Histogram({
    name: 'sipvm_rtpengine_command_seconds',
    help: 'ng commands by command and outcome (ok, error, timeout), and how long rtpengine took',
    labelNames: ['command', 'outcome'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
}
