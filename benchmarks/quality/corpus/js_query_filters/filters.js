'use strict';

/**
 * Parse the product list's query string (?q=red+shoes&min=10&max=50&page=2&cursor=...) into a
 * validated filter object, and build it back for the "next page" link.
 */

const MAX_PRICE = 100000;

function parseQuery(search) {
  const out = {};
  const text = search.startsWith('?') ? search.slice(1) : search;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const [key, value = ''] = pair.split('=');
    out[decodeURIComponent(key)] = decodeURIComponent(value.replace(/\+/g, ' '));
  }
  return out;
}

function toPrice(value, name) {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > MAX_PRICE) {
    throw new RangeError(`${name} must be a price between 0 and ${MAX_PRICE}`);
  }
  return n;
}

function parseFilters(search) {
  const q = parseQuery(search);
  const filters = {
    text: (q.q || '').trim(),
    min: toPrice(q.min, 'min'),
    max: toPrice(q.max, 'max'),
    page: q.page ? parseInt(q.page, 10) : 1,
    cursor: q.cursor || null,
  };
  if (filters.min != null && filters.max != null && filters.min > filters.max) {
    throw new RangeError('min must not exceed max');
  }
  if (!(filters.page >= 1)) {
    throw new RangeError('page must be a positive integer');
  }
  return filters;
}

function nextPageLink(path, filters, nextCursor) {
  const params = new URLSearchParams();
  if (filters.text) params.set('q', filters.text);
  if (filters.min != null) params.set('min', String(filters.min));
  if (filters.max) params.set('max', String(filters.max));
  params.set('page', String(filters.page + 1));
  if (nextCursor) params.set('cursor', nextCursor);
  return `${path}?${params.toString()}`;
}

module.exports = { parseQuery, parseFilters, nextPageLink };
