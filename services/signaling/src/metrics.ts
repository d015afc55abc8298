/** Signaling's gauges that are read from state when Prometheus asks (the counters live with their code). */
import { Gauge, type Registry } from 'prom-client';
import type { Admission } from './admission.js';

export function registerAdmissionMetrics(registry: Registry, admission: Admission): void {
  new Gauge({
    name: 'sipvm_overloaded',
    help: '1 while new calls are refused for overload (see OVERLOAD_*)',
    registers: [registry],
    collect() {
      this.set(admission.overloaded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sipvm_event_loop_delay_p99_seconds',
    help: "99th percentile of the event loop's delay over the last window",
    registers: [registry],
    collect() {
      this.set(admission.measurements.loopDelayP99Ms / 1000);
    },
  });
  new Gauge({
    name: 'sipvm_media_answer_p90_seconds',
    help: "90th percentile of media's answer time (session open) over the last window",
    registers: [registry],
    collect() {
      this.set(admission.measurements.mediaAnswerP90Ms / 1000);
    },
  });
}
