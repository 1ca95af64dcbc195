"""Invoice totals for the billing service."""

from dataclasses import dataclass, field

TAX_RATE = 0.2


@dataclass
class Line:
    description: str
    unit_price: float
    quantity: int


@dataclass
class Invoice:
    customer: str
    lines: list[Line] = field(default_factory=list)
    discount_percent: float = 0.0

    def add(self, description: str, unit_price: float, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        self.lines.append(Line(description, unit_price, quantity))

    def subtotal(self) -> float:
        return sum(line.unit_price * line.quantity for line in self.lines)

    def apply_discount(self, percent: float) -> None:
        """Set the discount from a coupon or a sales override."""
        self.discount_percent = percent

    def total(self) -> float:
        discounted = self.subtotal() * (1 - self.discount_percent / 100)
        return round(discounted * (1 + TAX_RATE), 2)

    def tax(self) -> float:
        return round(self.subtotal() * TAX_RATE, 2)


def render(invoice: Invoice) -> str:
    rows = [f"Invoice for {invoice.customer}"]
    for line in invoice.lines:
        rows.append(f"{line.description:30} {line.quantity:>4} x {line.unit_price:>10.2f}")
    rows.append(f"{'Tax':30} {invoice.tax():>17.2f}")
    rows.append(f"{'Total':30} {invoice.total():>17.2f}")
    return "\n".join(rows)
