// Keeps recently used API key rows in the process, so a request with a known key costs no key
// lookup. It holds rows, not verdicts: the caller still compares the secret with the stored hash
// and reads revokedAt. Every gateway LISTENs for the notification revokeApiKey and setReadLog send
// on commit and drops the rows it names; the maximum age bounds a notification that never arrives.
import type { Database } from '../db/client.ts';
import { KEYS_CHANNEL, type StoredKey } from './repository.ts';

export type KeyCacheOptions = {
  /** Rows kept at most; the least recently used goes first. */
  maxKeys: number;
  /** How long a row may be served after it was read; 0 turns the cache off. */
  maxAgeMs: number;
  /** The clock (tests). */
  now?: () => number;
};

type Entry = { key: StoredKey; readAt: number };

export class KeyCache {
  /** In use order, least recent first (a Map iterates in insertion order). */
  readonly #entries = new Map<string, Entry>();
  /**
   * Bumped by every eviction. A lookup that began before one may have read the row as it was
   * before the change, so it does not keep what it read.
   */
  #generation = 0;
  readonly #now: () => number;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(readonly options: KeyCacheOptions) {
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.maxAgeMs > 0 && this.options.maxKeys > 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached row of `keyId`, or undefined (not cached, or older than the maximum age). */
  get(keyId: string): StoredKey | undefined {
    const entry = this.#entries.get(keyId);
    if (!entry) return undefined;
    this.#entries.delete(keyId);
    if (this.#now() - entry.readAt >= this.options.maxAgeMs) return undefined;
    this.#entries.set(keyId, entry);
    return entry.key;
  }

  /**
   * Reads `keyId` through `load` and keeps the row, unless an eviction happened meanwhile. Rows
   * that do not exist are not kept: a flood of unknown keys is the rate limiter's business, and
   * a key created a moment later must work at once.
   */
  async load(keyId: string, load: () => Promise<StoredKey | null>): Promise<StoredKey | null> {
    const generation = this.#generation;
    // The age counts from before the read, so a row is never served longer than the bound.
    const readAt = this.#now();
    const key = await load();
    if (key && this.enabled && generation === this.#generation) {
      this.#entries.delete(keyId);
      this.#entries.set(keyId, { key, readAt });
      if (this.#entries.size > this.options.maxKeys) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
    }
    return key;
  }

  evictKey(keyId: string): void {
    this.#generation++;
    this.#entries.delete(keyId);
  }

  evictTenant(tenantId: number): void {
    this.#generation++;
    for (const [keyId, entry] of this.#entries) {
      if (entry.key.tenantId === tenantId) this.#entries.delete(keyId);
    }
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }

  /** Applies one notification payload: `key:<id>` or `tenant:<id>`; anything else clears all. */
  applyNotification(payload: string): void {
    const colon = payload.indexOf(':');
    const kind = payload.slice(0, colon);
    const id = payload.slice(colon + 1);
    const tenantId = Number(id);
    if (colon > 0 && kind === 'key' && id) this.evictKey(id);
    else if (colon > 0 && kind === 'tenant' && Number.isSafeInteger(tenantId)) this.evictTenant(tenantId);
    else this.clear();
  }

  /**
   * Evicts on the notifications of every instance. Each (re)LISTEN clears the whole cache: what
   * was announced while the connection was down is lost.
   */
  async listen(listener: Database['listen'] | undefined): Promise<void> {
    if (!listener || !this.enabled) return;
    this.#unlisten = await listener(
      KEYS_CHANNEL,
      (payload) => this.applyNotification(payload),
      () => this.clear(),
    );
  }

  async close(): Promise<void> {
    this.clear();
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }
}
