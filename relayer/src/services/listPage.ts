/**
 * Keyset pages of the lists ordered by a time and an id: merchants, API keys, webhook endpoints and open
 * disputes. `nextCursor` holds the last row's time, as PostgreSQL prints it (microseconds kept), and its id; the
 * next page starts after them, so rows added or removed meanwhile never shift a page. A cursor the API did not
 * issue is refused with 400 validation_failed (details.field: cursor), as the order list does.
 */
import { AppError } from "../domain/errors";

export const LIST_PAGE_DEFAULT = 50;

/** Where a page starts: after this time and id (`store` queries take it as is). */
export interface ListCursor {
  at: string;
  id: string;
}

/** The timestamptz text PostgreSQL prints, e.g. 2026-05-01 12:00:00.123456+00. */
const AT_SHAPE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

const invalidCursor = () =>
  new AppError("validation_failed", "cursor is not valid; use the nextCursor of a previous page", {
    field: "cursor",
  });

export function encodeListCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url");
}

export function decodeListCursor(cursor: string): ListCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((x) => typeof x === "string")) {
    throw invalidCursor();
  }
  const [at, id] = parsed as string[];
  if (!AT_SHAPE.test(at) || id.length < 1 || id.length > 128) throw invalidCursor();
  return { at, id };
}

/**
 * One page: `fetch` reads up to `limit` rows after `after` (null: from the start), each with its `cursor_at`
 * (the ordering time as text). One more row than a page is read to tell whether a next page exists.
 */
export async function listPage<R extends { id: string; cursor_at: string }, V>(
  page: { cursor?: string; limit?: number },
  fetch: (after: ListCursor | null, limit: number) => Promise<R[]>,
  view: (row: R) => V,
): Promise<{ data: V[]; nextCursor: string | null }> {
  const limit = page.limit ?? LIST_PAGE_DEFAULT;
  const after = page.cursor === undefined ? null : decodeListCursor(page.cursor);
  const rows = await fetch(after, limit + 1).catch((err: { code?: string }) => {
    // A forged cursor of the right shape whose time does not exist (a 31st of February): data exception 22xxx.
    if (after && typeof err.code === "string" && err.code.startsWith("22")) throw invalidCursor();
    throw err;
  });
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    data: shown.map(view),
    nextCursor: rows.length > limit ? encodeListCursor({ at: last.cursor_at, id: last.id }) : null,
  };
}
