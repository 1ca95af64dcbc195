'use strict';

/**
 * Money in the checkout UI is handled as integer cents: parsed from what the user typed, summed
 * as integers and formatted only for display, so no binary-float rounding reaches a total.
 */

const AMOUNT = /^(-)?(\d{1,9})(?:[.,](\d{1,2}))?$/;

function parseCents(text) {
  const m = AMOUNT.exec(String(text).trim());
  if (m === null) {
    throw new RangeError(`not an amount: ${JSON.stringify(text)}`);
  }
  const [, minus, whole, fraction = ''] = m;
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return minus && cents > 0 ? -cents : cents;
}

function sumCents(amounts) {
  let total = 0;
  for (const a of amounts) {
    if (!Number.isSafeInteger(a)) {
      throw new TypeError(`amounts must be integer cents, got ${a}`);
    }
    total += a;
  }
  if (!Number.isSafeInteger(total)) {
    throw new RangeError('total is too large to represent exactly');
  }
  return total;
}

function percentOf(cents, basisPoints) {
  // basisPoints: 1 % = 100. Rounded half away from zero, as on the printed invoice.
  const exact = cents * basisPoints;
  const sign = exact < 0 ? -1 : 1;
  return sign * Math.floor((Math.abs(exact) + 5000) / 10000);
}

function formatCents(cents, currency = 'EUR', locale = 'de-DE') {
  if (!Number.isSafeInteger(cents)) {
    throw new TypeError(`cents must be an integer, got ${cents}`);
  }
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(cents / 100);
}

module.exports = { parseCents, sumCents, percentOf, formatCents };
