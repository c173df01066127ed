import type { OtlpSinkConfig } from '../config/schema-sinks.js';
import { BehalfError } from '../errors.js';
import type { SendOutcome, SinkItem } from './sink-pump.js';

/** Sends batches of audit records to an OpenTelemetry collector. */
export interface OtlpSender {
  send(items: readonly SinkItem[], signal: AbortSignal): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** Placeholder until the OpenTelemetry packages are installed. */
export async function createOtlpSender(_cfg: OtlpSinkConfig): Promise<OtlpSender> {
  throw new BehalfError('config-invalid', 'audit.sinks: the otlp sink needs the OpenTelemetry packages');
}
