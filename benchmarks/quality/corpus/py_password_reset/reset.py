"""Password-reset tokens: issue, store (hashed) and redeem once within 30 minutes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TOKEN_TTL = timedelta(minutes=30)


@dataclass
class ResetRecord:
    user_id: int
    token_hash: str
    expires_at: datetime  # aware, UTC
    used: bool = False


class ResetStore:
    """In-memory store of outstanding reset tokens (one per user)."""

    def __init__(self) -> None:
        self._by_user: dict[int, ResetRecord] = {}

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, user_id: int, now: datetime | None = None) -> str:
        """A new token for `user_id`; any earlier token of the user stops working."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        self._by_user[user_id] = ResetRecord(user_id, self._hash(token), now + TOKEN_TTL)
        return token

    def redeem(self, user_id: int, token: str, now: datetime | None = None) -> bool:
        """True once for a valid, unexpired token of `user_id`; the token is then spent."""
        record = self._by_user.get(user_id)
        if record is None or record.used:
            return False
        now = now or datetime.utcnow()
        if now > record.expires_at:
            return False
        if not hmac.compare_digest(self._hash(token), record.token_hash):
            return False
        record.used = True
        return True

    def purge(self, now: datetime | None = None) -> int:
        """Forget spent and expired tokens; return how many were removed."""
        now = now or datetime.now(UTC)
        dead = [u for u, r in self._by_user.items() if r.used or r.expires_at < now]
        for user_id in dead:
            del self._by_user[user_id]
        return len(dead)


def reset_link(base_url: str, user_id: int, token: str) -> str:
    """The link mailed to the user."""
    return f"{base_url}/reset?user={user_id}&token={token}"


def parse_expiry(text: str) -> datetime:
    """An expiry timestamp from the admin export (ISO 8601, stored in UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=None)
