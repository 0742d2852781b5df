// The live tail's heartbeat (src/http/sse-heartbeat.ts) on its own. Through the gateway it cannot
// be told apart from yoga's own keep-alive, which sends the same comment every 300 ms under
// NODE_ENV=test (12 s otherwise), so live-tail.test.ts's idle-stream check would pass without it.
import { describe, expect, it } from 'vitest';
import { withSseHeartbeat } from '../src/http/sse-heartbeat.ts';

const decoder = new TextDecoder();

/** An event stream that sends only what the test pushes, read through the heartbeat. */
function idleStream(intervalMs: number) {
  let push: (text: string) => void = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (text) => controller.enqueue(new TextEncoder().encode(text));
    },
  });
  const res = withSseHeartbeat(
    new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    intervalMs,
  );
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const read = async () => decoder.decode((await reader.read()).value);
  return { push, read, cancel: () => reader.cancel() };
}

describe('the SSE heartbeat', () => {
  it('sends a comment whenever the stream was idle for the interval', async () => {
    const s = idleStream(50);
    const started = performance.now();
    expect(await s.read()).toBe(':\n\n');
    expect(await s.read()).toBe(':\n\n');
    // Two intervals at least (timers never fire early).
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    await s.cancel();
  });

  it('passes events through unchanged, and waits a whole interval after one', async () => {
    const s = idleStream(300);
    s.push('event: next\ndata: {"a":1}\n\n');
    const sent = performance.now();
    expect(await s.read()).toBe('event: next\ndata: {"a":1}\n\n');
    expect(await s.read()).toBe(':\n\n');
    expect(performance.now() - sent).toBeGreaterThanOrEqual(295);
    await s.cancel();
  });

  it('leaves answers that are not event streams alone', () => {
    const json = new Response('{"data":{}}', { headers: { 'content-type': 'application/json' } });
    expect(withSseHeartbeat(json, 50)).toBe(json);
  });
});
