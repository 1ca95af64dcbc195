// Shopping cart totals for the checkout page.

const COUPONS = { WELCOME10: 0.1, VIP25: 0.25 };

class Cart {
  constructor() {
    this.items = [];
    this.discount = 0;
  }

  // qty comes straight from the query string (?qty=2)
  add(sku, price, qty) {
    const existing = this.items.find((item) => item.sku === sku);
    if (existing) {
      existing.qty += qty;
    } else {
      this.items.push({ sku, price, qty });
    }
  }

  remove(sku) {
    this.items = this.items.filter((item) => item.sku !== sku);
  }

  applyCoupon(code) {
    const rate = COUPONS[code];
    if (rate === undefined) {
      throw new Error(`unknown coupon ${code}`);
    }
    this.discount += rate;
  }

  subtotal() {
    return this.items.reduce((sum, item) => sum + item.price * item.qty, 0);
  }

  total() {
    return Math.round(this.subtotal() * (1 - this.discount) * 100) / 100;
  }

  count() {
    return this.items.reduce((n, item) => n + item.qty, 0);
  }
}

module.exports = { Cart, COUPONS };
