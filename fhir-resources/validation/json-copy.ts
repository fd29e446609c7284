/**
 * A deep copy of JSON data with JSON.parse(JSON.stringify(value))'s result, built without the text in between: on
 * the write path every resource is copied once, and the round trip through a string cost twice as much and left
 * the string behind for the collector. Values that JSON would turn into something else (a Date, NaN, a function,
 * an undefined array item) take the round trip, so the copy never differs from it.
 */
export function jsonCopy<T>(value: T): T {
  return copyValue(value) as T;
}

function copyValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number') return Number.isFinite(value) ? value + 0 : null;
    return value;
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      out[i] = v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : copyValue(v);
    }
    return out;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.parse(JSON.stringify(value));
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in object) {
    if (!Object.prototype.hasOwnProperty.call(object, k)) continue;
    const v = object[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    // JSON.parse makes "__proto__" an own key; an assignment would set the prototype instead.
    if (k === '__proto__') Object.defineProperty(out, k, { value: copyValue(v), enumerable: true, writable: true, configurable: true });
    else out[k] = copyValue(v);
  }
  return out;
}
