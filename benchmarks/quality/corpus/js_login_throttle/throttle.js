'use strict';

/**
 * Login throttling middleware: at most MAX_FAILURES failed logins per account and per IP address
 * in a sliding window of WINDOW_S seconds; counters live in Redis so every app instance shares them.
 */

const MAX_FAILURES = 5;
const WINDOW_S = 15 * 60;

class FailureCounter {
  constructor(redis, prefix = 'login-fail') {
    this.redis = redis;
    this.prefix = prefix;
  }

  key(kind, id) {
    return `${this.prefix}:${kind}:${id}`;
  }

  async count(kind, id) {
    const value = await this.redis.get(this.key(kind, id));
    return value ? parseInt(value, 10) : 0;
  }

  async record(kind, id) {
    const key = this.key(kind, id);
    const n = await this.redis.incr(key);
    if (n === 1) {
      await this.redis.expire(key, WINDOW_S);
    }
    return n;
  }

  async reset(kind, id) {
    await this.redis.del(this.key(kind, id));
  }
}

function throttleLogins(counter) {
  return async function throttle(req, res, next) {
    const account = String(req.body.username || '').toLowerCase();
    const ip = req.ip;
    const [byAccount, byIp] = await Promise.all([counter.count('acct', account), counter.count('ip', ip)]);
    if (byAccount >= MAX_FAILURES || byIp >= MAX_FAILURES * 4) {
      res.set('Retry-After', String(WINDOW_S));
      return res.status(429).json({ error: 'too many failed logins, try again later' });
    }
    res.on('finish', () => {
      let update = null;
      if (res.statusCode === 401) {
        update = Promise.all([counter.record('acct', account), counter.record('ip', ip)]);
      } else if (res.statusCode === 200) {
        update = counter.reset('acct', account);
      }
      if (update) {
        update.catch((err) => console.error('login throttle: counter update failed', err));
      }
    });
    return next();
  };
}

async function isLocked(counter, username) {
  const failures = counter.count('acct', String(username).toLowerCase());
  return failures >= MAX_FAILURES;
}

module.exports = { FailureCounter, throttleLogins, isLocked, MAX_FAILURES, WINDOW_S };
