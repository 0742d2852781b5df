// HTTPS webhook destination: each batch is one POST of JSON, signed like Stripe's webhooks so
// receivers can reuse what they know: `Audit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">`. Any 2xx is an acknowledgement; anything else (or no answer) is retried.
import { createHmac } from 'node:crypto';
import { type DeliveryBatch, DeliveryError, type Sink } from './sink.ts';

export const SIGNATURE_HEADER = 'Audit-Signature';

export type WebhookConfig = { url: string };

export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export class WebhookSink implements Sink {
  constructor(
    private readonly config: WebhookConfig,
    private readonly secret: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async deliver(batch: DeliveryBatch, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(batch);
    const timestamp = Math.floor(this.now().getTime() / 1000);
    let response: Response;
    try {
      response = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'audit-gateway-log-stream',
          [SIGNATURE_HEADER]: signWebhook(this.secret, timestamp, body),
        },
        body,
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new DeliveryError(
        `POST ${this.config.url} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
    // The body is not needed, but reading it lets the connection be reused.
    const text = await response.text().catch(() => '');
    if (response.status < 200 || response.status > 299) {
      throw new DeliveryError(`POST ${this.config.url} answered ${response.status}: ${text.slice(0, 200)}`);
    }
  }

  async close(): Promise<void> {}
}
