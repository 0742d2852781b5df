// Writes a large JSON document as a stream: a head, the items of each batch as they arrive from
// the database, and a tail computed at the end (e.g. Mural's nextToken). Memory stays bounded by
// one batch however many items there are, and backpressure from a slow client pauses the reads.
export type JsonStreamSource<T> = {
  head: string;
  batches: AsyncIterator<T[]>;
  item: (value: T) => unknown;
  /** Called after the last batch; returns the closing text. */
  tail: () => string;
};

/**
 * Fetches the first batch before answering, so a bad parameter or an unreachable database still
 * gets a proper error status. A failure after that aborts the stream: the client sees a broken
 * response, never a short one that looks complete.
 */
export async function jsonStream<T>(source: JsonStreamSource<T>): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const first = await source.batches.next();
  let pending: IteratorResult<T[]> | null = first;
  let wroteItem = false;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(source.head));
        }
        const next = pending ?? (await source.batches.next());
        pending = null;
        if (next.done) {
          controller.enqueue(encoder.encode(source.tail()));
          controller.close();
          return;
        }
        if (next.value.length > 0) {
          const body = next.value.map((v) => JSON.stringify(source.item(v))).join(',');
          controller.enqueue(encoder.encode(wroteItem ? `,${body}` : body));
          wroteItem = true;
        }
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await source.batches.return?.(undefined);
    },
  });
}
