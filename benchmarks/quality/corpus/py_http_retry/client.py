"""A thin HTTP client for the orders API with retries on transient failures."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

RETRY_STATUSES = {429, 502, 503, 504}


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number `attempt` (0-based), capped."""
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** attempt))


class OrdersClient:
    """Calls the orders API; transient errors are retried with backoff."""

    def __init__(self, base_url: str, token: str, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.policy = policy or RetryPolicy()
        self.sleep = sleep

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        last: Exception | None = None
        for attempt in range(self.policy.attempts):
            try:
                resp = self.session.request(method, self.base_url + path, timeout=10, **kwargs)
                if resp.status_code not in RETRY_STATUSES:
                    resp.raise_for_status()
                    return resp
                last = requests.HTTPError(f"{resp.status_code} from {path}", response=resp)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
            if attempt + 1 < self.policy.attempts:
                self.sleep(self.policy.delay(attempt))
        assert last is not None
        raise last

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order by id."""
        return self._request("GET", f"/orders/{order_id}").json()

    def create_order(self, customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Place a new order and return it as created by the server."""
        body = {"customer_id": customer_id, "lines": lines}
        return self._request("POST", "/orders", json=body).json()

    def cancel_order(self, order_id: str) -> None:
        """Cancel an order; cancelling an already cancelled order is not an error."""
        try:
            self._request("POST", f"/orders/{order_id}/cancel")
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 409:
                return
            raise
