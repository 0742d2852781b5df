// Helpers the REST contract tests share: recording events through the batch route, the order the
// vendor listings promise, and the error body every REST route answers with.
import { expect } from 'vitest';
import type { TestGateway } from './gateway.ts';

export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A JSON request body with its Content-Type (a string is sent as is, for malformed JSON), the key
 * and any other headers: the `init` of TestGateway.fetch, without the method.
 */
export function jsonRequest(body: unknown, key?: string, headers: Record<string, string> = {}) {
  return {
    ...(key === undefined ? {} : { key }),
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

export type BatchResult = { status: string; id?: string; error?: unknown };

/**
 * Records events in the canonical shape through `POST /audit/v1/events` and expects every one
 * stored; returns their ids in input order.
 */
export async function recordBatch(gateway: TestGateway, key: string, events: unknown[]): Promise<string[]> {
  const res = await gateway.fetch('/audit/v1/events', { method: 'POST', ...jsonRequest({ events }, key) });
  expect(res.status).toBe(200);
  const { results } = (await res.json()) as { results: BatchResult[] };
  expect(results.map((r) => (r.status === 'stored' ? 'stored' : JSON.stringify(r)))).toEqual(
    events.map(() => 'stored'),
  );
  return results.map((r) => r.id as string);
}

/** Reverse chronological, ties (same instant) by id descending: how every listing here orders them. */
export function byNewestFirst(a: { at: number; id: string }, b: { at: number; id: string }): number {
  return b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** The ids of `events`, most recent first (see byNewestFirst). */
export function newestFirst(events: readonly ({ at: number; id: string } | undefined)[]): string[] {
  return [...(events as { at: number; id: string }[])].sort(byNewestFirst).map((e) => e.id);
}

/** Status and body of a REST error response, without the per-request id (which must be there). */
export async function errorShape(res: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const { requestId, ...body } = (await res.json()) as Record<string, unknown>;
  expect(typeof requestId).toBe('string');
  return { status: res.status, body };
}
