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
    // Only the start of an error answer is kept (for the stream's status); a 2xx body is not read.
    const text = response.ok ? '' : await readStart(response, 200);
    await response.body?.cancel().catch(() => {});
    if (!response.ok) {
      throw new DeliveryError(`POST ${this.config.url} answered ${response.status}: ${text}`);
    }
  }

  async close(): Promise<void> {}
}

/** The first `limit` characters of a body, without reading the rest (a receiver may send gigabytes). */
async function readStart(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // A broken body after the status line: the status is what matters.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, limit);
}
