/**
 * The service's tracer (OpenTelemetry): spans of the calls it handles exported to an OTLP/HTTP
 * collector (Jaeger, Tempo, an OpenTelemetry Collector) when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; how they travel between services is contracts'
 * tracing.ts. Off by default, and then nothing is loaded and nothing is done per call.
 */
import type { Logger } from 'pino';
import { setTracingEnabled } from '@sipvm/contracts';
import type { CommonConfig } from './config.js';

export interface Tracing {
  /** Sends what is still buffered and stops. */
  stop(): Promise<void>;
}

export async function startTracing(service: string, config: CommonConfig, log: Logger): Promise<Tracing> {
  const url =
    config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (config.OTEL_EXPORTER_OTLP_ENDPOINT ? `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces` : undefined);
  if (!url) return { stop: async () => undefined };
  // Loaded only when tracing is on: a platform without it carries none of the SDK.
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `sipvm-${service}`, 'service.instance.id': config.INSTANCE_ID }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1_000 })],
  });
  provider.register();
  setTracingEnabled(true);
  log.info({ url }, 'tracing: spans go to the OTLP collector');
  return {
    async stop() {
      setTracingEnabled(false);
      await provider.shutdown().catch((error: unknown) => log.warn({ err: String(error) }, 'tracing: the last spans could not be sent'));
    },
  };
}
