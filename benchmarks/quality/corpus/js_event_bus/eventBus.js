'use strict';

/**
 * A small synchronous event bus for the editor's plugins: on / once / off / emit.
 * Listeners run in the order they were added; a listener that throws does not stop the others.
 */

class EventBus {
  constructor(onError = (err) => console.error(err)) {
    this.listeners = new Map();
    this.onError = onError;
  }

  on(event, fn) {
    if (typeof fn !== 'function') {
      throw new TypeError('listener must be a function');
    }
    if (!this.listeners.has(event)) {
      this.listeners.set(event, []);
    }
    this.listeners.get(event).push({ fn, once: false });
    return () => this.off(event, fn);
  }

  once(event, fn) {
    this.on(event, fn);
    const list = this.listeners.get(event);
    list[list.length - 1].once = true;
  }

  off(event, fn) {
    const list = this.listeners.get(event);
    if (!list) return false;
    const i = list.findIndex((entry) => entry.fn === fn);
    if (i === -1) return false;
    list.splice(i, 1);
    return true;
  }

  emit(event, ...args) {
    const list = this.listeners.get(event) || [];
    for (let i = 0; i < list.length; i += 1) {
      const entry = list[i];
      if (entry.once) {
        list.splice(i, 1);
      }
      try {
        entry.fn(...args);
      } catch (err) {
        this.onError(err);
      }
    }
    return list.length > 0;
  }

  listenerCount(event) {
    return (this.listeners.get(event) || []).length;
  }
}

module.exports = { EventBus };
