'use strict';

/**
 * Map an async function over many items with at most `limit` calls in flight, e.g. to resize the
 * photos of an album without opening hundreds of connections. Results come back in input order.
 */

async function parallelMap(items, fn, limit = 4) {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError('limit must be a positive integer');
  }
  const results = [];
  let next = 0;

  async function worker() {
    while (next < items.length) {
      const index = next;
      next += 1;
      const value = await fn(items[index], index);
      results.push(value);
    }
  }

  const workers = [];
  for (let i = 0; i < Math.min(limit, items.length); i += 1) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return results;
}

async function withRetry(fn, attempts = 3, delayMs = 200) {
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
      if (attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, delayMs * attempt));
      }
    }
  }
  throw lastError;
}

async function resizeAlbum(photos, resize, limit = 4) {
  const sizes = await parallelMap(photos, (photo) => withRetry(() => resize(photo)), limit);
  return photos.map((photo, i) => ({ id: photo.id, bytes: sizes[i] }));
}

module.exports = { parallelMap, withRetry, resizeAlbum };
