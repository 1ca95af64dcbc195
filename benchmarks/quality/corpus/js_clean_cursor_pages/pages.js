'use strict';

/**
 * Iterate over every record of a cursor-paginated API (GET /records?limit=N&cursor=C returns
 * { items: [...], next_cursor: string | null }), one page in flight at a time.
 */

class ApiError extends Error {
  constructor(status, url, body) {
    super(`GET ${url} failed with HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

async function fetchPage(baseUrl, { limit, cursor, fetchImpl = fetch, signal } = {}) {
  const url = new URL('/records', baseUrl);
  url.searchParams.set('limit', String(limit));
  if (cursor !== null && cursor !== undefined) {
    url.searchParams.set('cursor', cursor);
  }
  const res = await fetchImpl(url.toString(), { signal, headers: { Accept: 'application/json' } });
  if (!res.ok) {
    throw new ApiError(res.status, url.toString(), await res.text());
  }
  const page = await res.json();
  if (!Array.isArray(page.items)) {
    throw new ApiError(res.status, url.toString(), 'response has no items array');
  }
  return page;
}

async function* allRecords(baseUrl, { limit = 100, maxPages = 10000, fetchImpl, signal } = {}) {
  let cursor = null;
  const seen = new Set();
  for (let pages = 0; pages < maxPages; pages += 1) {
    const page = await fetchPage(baseUrl, { limit, cursor, fetchImpl, signal });
    yield* page.items;
    if (page.next_cursor === null || page.next_cursor === undefined) {
      return;
    }
    if (seen.has(page.next_cursor)) {
      throw new Error(`cursor ${page.next_cursor} repeated: the server is looping`);
    }
    seen.add(page.next_cursor);
    cursor = page.next_cursor;
  }
  throw new Error(`stopped after ${maxPages} pages; raise maxPages if the data set is that large`);
}

async function countRecords(baseUrl, options) {
  let n = 0;
  for await (const _ of allRecords(baseUrl, options)) {
    n += 1;
  }
  return n;
}

module.exports = { ApiError, fetchPage, allRecords, countRecords };
