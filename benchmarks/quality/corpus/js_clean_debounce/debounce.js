// debounce(fn, wait): call fn once, `wait` ms after the last call in a burst.

function debounce(fn, wait) {
  if (typeof fn !== "function") {
    throw new TypeError("fn must be a function");
  }
  if (!Number.isFinite(wait) || wait < 0) {
    throw new RangeError("wait must be a non-negative number");
  }
  let timer = null;
  let lastArgs = null;
  let lastThis = null;

  function debounced(...args) {
    lastArgs = args;
    lastThis = this;
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      const callArgs = lastArgs;
      const callThis = lastThis;
      lastArgs = null;
      lastThis = null;
      fn.apply(callThis, callArgs);
    }, wait);
  }

  debounced.cancel = function cancel() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    lastArgs = null;
    lastThis = null;
  };

  return debounced;
}

module.exports = { debounce };
