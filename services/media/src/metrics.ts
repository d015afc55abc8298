/** What media counts for Prometheus, beyond the request metrics every service has. */
import { Counter, Gauge, type Registry } from 'prom-client';

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
    recordings: new Counter({ name: 'sipvm_media_recordings_total', help: 'Recordings staged as WAV, by caller codec', labelNames: ['codec'], registers: [registry] }),
  };
}
