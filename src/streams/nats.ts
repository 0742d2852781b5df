// NATS JetStream destination: each event is published to `<prefix>.<tenant>.<action>` with
// Nats-Msg-Id set to the event id, so a batch published again after a crash is deduplicated by
// the stream (within its duplicate window, two minutes by default) instead of stored twice.
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type DeliveryBatch, DeliveryError, type Sink } from './sink.ts';

export type NatsConfig = {
  servers: string[];
  /** The JetStream stream that captures the subjects; it must exist unless `createStream`. */
  stream: string;
  subjectPrefix: string;
  /** Create the stream (capturing `<prefix>.>`) when it does not exist. */
  createStream: boolean;
};

/**
 * One subject token from free text. NATS tokens are separated by dots and may not contain
 * whitespace or the wildcards `*` and `>`; every other character is kept, and each forbidden
 * one becomes `_` (so `user.login` is published as `user_login`, and `a b` as `a_b`). The
 * exact action is in the message body; subscribers that need it should read it from there.
 */
export function subjectToken(text: string): string {
  const token = text.replace(/[\s.*>]/gu, '_');
  return token === '' ? '_' : token;
}

export function natsSubject(prefix: string, tenant: string, action: string): string {
  return `${prefix}.${subjectToken(tenant)}.${subjectToken(action)}`;
}

export class NatsSink implements Sink {
  private connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;

  constructor(private readonly config: NatsConfig) {}

  private open() {
    this.connection ??= (async () => {
      const nc = await connect({ servers: this.config.servers, name: 'audit-gateway', reconnect: true });
      try {
        const jsm = await jetstreamManager(nc);
        try {
          await jsm.streams.info(this.config.stream);
        } catch (error) {
          if (!this.config.createStream) {
            throw new DeliveryError(
              `NATS stream "${this.config.stream}" does not exist: ${(error as Error).message}`,
            );
          }
          await jsm.streams.add({ name: this.config.stream, subjects: [`${this.config.subjectPrefix}.>`] });
        }
        return { nc, js: jetstream(nc) };
      } catch (error) {
        await nc.close();
        throw error;
      }
    })();
    // A failed connection is retried on the next delivery, not cached.
    this.connection.catch(() => {
      this.connection = undefined;
    });
    return this.connection;
  }

  async deliver(batch: DeliveryBatch, signal: AbortSignal): Promise<void> {
    let js: JetStreamClient;
    try {
      ({ js } = await this.open());
    } catch (error) {
      throw error instanceof DeliveryError ? error : new DeliveryError(`NATS: ${(error as Error).message}`);
    }
    // In order and one at a time: each ack means the stream has it before the next is sent.
    for (const event of batch.events) {
      if (signal.aborted) throw new DeliveryError('NATS: delivery timed out');
      const subject = natsSubject(this.config.subjectPrefix, batch.tenant, event.action);
      try {
        const ack = await js.publish(subject, JSON.stringify(event), { msgID: event.id, timeout: 5000 });
        if (ack.stream !== this.config.stream) {
          throw new DeliveryError(
            `NATS: ${subject} is captured by stream "${ack.stream}", not "${this.config.stream}"`,
          );
        }
      } catch (error) {
        throw error instanceof DeliveryError
          ? error
          : new DeliveryError(`NATS: publishing to ${subject} failed: ${(error as Error).message}`);
      }
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await (await connection.catch(() => undefined))?.nc.close();
  }
}
