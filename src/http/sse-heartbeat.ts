// Keeps Server-Sent Event streams (the live tail on /graphql) alive through proxies that close
// idle connections: a comment line (`:`) whenever nothing was sent for `intervalMs`. Other
// answers pass through untouched.

const COMMENT = new TextEncoder().encode(':\n\n');

export function withSseHeartbeat(res: Response, intervalMs: number): Response {
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return res;
  let timer: NodeJS.Timeout | undefined;
  const beat = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      const idle = () => {
        // Closed or cancelled (desiredSize null): nothing more to keep alive.
        if (controller.desiredSize === null) return;
        // Only onto an empty queue: a stalled client gets at most one comment waiting for it.
        if (controller.desiredSize >= 0) {
          try {
            controller.enqueue(COMMENT);
          } catch {
            return; // the client went away (its side was cancelled)
          }
        }
        timer = setTimeout(idle, intervalMs);
        timer.unref();
      };
      timer = setTimeout(idle, intervalMs);
      timer.unref();
    },
    transform(chunk, controller) {
      controller.enqueue(chunk);
      // Sent something: the next comment is due a whole interval from now.
      timer?.refresh();
    },
    flush() {
      clearTimeout(timer);
    },
  });
  return new Response(res.body.pipeThrough(beat), {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
