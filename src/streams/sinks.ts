// Builds the sink for a stored log stream from its kind and configuration.

import { type NatsConfig, NatsSink } from './nats.ts';
import type { StreamForDelivery } from './repository.ts';
import type { Sink } from './sink.ts';
import { type WebhookConfig, WebhookSink } from './webhook.ts';

export function openSink(stream: StreamForDelivery): Sink {
  switch (stream.kind) {
    case 'webhook':
      return new WebhookSink(stream.config as WebhookConfig, stream.secret ?? '');
    case 'nats':
      return new NatsSink(stream.config as NatsConfig);
  }
}
