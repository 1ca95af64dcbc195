"""Retry helper for calls to flaky internal services."""

import functools
import logging
import random
import time

log = logging.getLogger(__name__)


def retry(attempts: int = 5, base_delay: float = 0.5):
    """Retry the wrapped call up to `attempts` times with exponential backoff and jitter.

    Raises the last error when every attempt failed.
    """

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            delay = base_delay
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except:  # noqa: E722
                    log.warning("attempt %d of %s failed", attempt, fn.__name__)
                    time.sleep(delay + random.uniform(0, delay))
                    delay *= 2
            return None

        return wrapper

    return decorator


@retry(attempts=3)
def fetch_profile(client, user_id: int) -> dict:
    """Load a user profile from the profile service."""
    response = client.get(f"/profiles/{user_id}", timeout=5)
    response.raise_for_status()
    return response.json()


@retry()
def publish_event(bus, event: dict) -> None:
    """Publish an event on the message bus."""
    bus.publish("events", event)
