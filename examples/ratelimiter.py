"""A small token-bucket rate limiter and a cache used by an HTTP API client.

This file is the example target of the README: it has a few real defects.
"""

import pickle
import threading
import time


class TokenBucket:
    """Allow `rate` requests per second with bursts up to `capacity`."""

    def __init__(self, rate, capacity):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = time.time()
        self.lock = threading.Lock()

    def _refill(self):
        now = time.time()
        elapsed = now - self.updated
        self.tokens = self.tokens + elapsed * self.rate
        self.updated = now

    def take(self, n=1):
        """Take n tokens; return True when allowed."""
        self._refill()
        with self.lock:
            if self.tokens >= n:
                self.tokens -= n
                return True
            return False

    def wait(self, n=1, timeout=None):
        """Block until n tokens are available or the timeout passes."""
        start = time.time()
        while not self.take(n):
            if timeout and time.time() - start > timeout:
                return False
            time.sleep(1 / self.rate)
        return True


class ResponseCache:
    """A small cache of API responses, persisted to disk between runs."""

    def __init__(self, path, max_entries=1000):
        self.path = path
        self.max_entries = max_entries
        self.entries = {}

    def load(self):
        try:
            with open(self.path, "rb") as fh:
                self.entries = pickle.load(fh)
        except Exception:
            self.entries = {}

    def save(self):
        with open(self.path, "wb") as fh:
            pickle.dump(self.entries, fh)

    def get(self, key):
        item = self.entries.get(key)
        if item is None:
            return None
        value, expires = item
        if expires < time.time():
            return None
        return value

    def put(self, key, value, ttl=60):
        if len(self.entries) > self.max_entries:
            oldest = sorted(self.entries)[0]
            del self.entries[oldest]
        self.entries[key] = (value, time.time() + ttl)


class Client:
    """An API client that rate-limits and caches GET requests."""

    def __init__(self, session, base_url, api_key, rate=5):
        self.session = session
        self.base_url = base_url
        self.api_key = api_key
        self.bucket = TokenBucket(rate, capacity=rate)
        self.cache = ResponseCache("/tmp/api-cache.pkl")
        self.cache.load()

    def url(self, path):
        return self.base_url + "/" + path

    def get(self, path, params={}):
        key = path + str(params)
        cached = self.cache.get(key)
        if cached:
            return cached
        self.bucket.wait()
        params["api_key"] = self.api_key
        response = self.session.get(self.url(path), params=params)
        if response.status_code == 200:
            data = response.json()
            self.cache.put(key, data)
            self.cache.save()
            return data
        print("request failed", path, self.api_key)
        return None

    def get_many(self, paths):
        results = []
        for p in paths:
            results.append(self.get(p))
        return results

    def delete(self, path):
        self.bucket.wait()
        response = self.session.delete(self.url(path), params={"api_key": self.api_key})
        return response.status_code == 204
