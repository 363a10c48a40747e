/**
 * Recently authenticated API keys, so an accepted order costs one database statement instead of two. Only
 * keys that are valid are kept, for at most `ttlMs`. A revocation empties the cache of the process that made
 * it before its response goes out, and of every other process on the database through a PostgreSQL
 * notification (`orderchain_api_keys`, sent in the revoking transaction, so delivered once it commits).
 * While the notification listener is down the cache is bypassed, so a revocation is never missed.
 */
import type { ApiKeyRow } from "./apiKeys";

export class ApiKeyCache {
  private readonly entries = new Map<string, { row: ApiKeyRow; at: number }>();
  /** Bumped by every invalidation: a lookup that began before one does not store its (possibly stale) row. */
  private generation = 0;
  private enabled: boolean;

  constructor(
    private readonly ttlMs: number,
    opts: { enabled?: boolean } = {},
  ) {
    this.enabled = ttlMs > 0 && opts.enabled !== false;
  }

  /** The key with `hash`, from the cache when a valid copy is fresh enough, else from `load`. */
  async lookup(hash: string, load: () => Promise<ApiKeyRow | undefined>): Promise<ApiKeyRow | undefined> {
    if (this.enabled) {
      const hit = this.entries.get(hash);
      if (hit && Date.now() - hit.at < this.ttlMs) return hit.row;
    }
    const generation = this.generation;
    const row = await load();
    if (this.enabled && generation === this.generation) {
      if (row && !row.revoked_at) this.entries.set(hash, { row, at: Date.now() });
      else this.entries.delete(hash);
    }
    return row;
  }

  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** Turns caching on or off (off while the notification listener is down); either way empties the cache. */
  setEnabled(on: boolean): void {
    this.invalidate();
    this.enabled = on && this.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }
}
