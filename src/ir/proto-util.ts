/** Small helpers for carrying decoded protobuf messages through the IR unchanged. */

/** A shallow copy of a decoded message without `omit`, keeping its unknown fields (a non-enumerable property). */
export function restOf<T extends object>(message: T | undefined, omit: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  if (!message) return out as Partial<T>;
  for (const key of Object.keys(message)) {
    if (!omit.includes(key)) out[key] = (message as Record<string, unknown>)[key];
  }
  const unknowns = (message as { $unknowns?: unknown }).$unknowns;
  if (unknowns !== undefined) out.$unknowns = unknowns;
  return out as Partial<T>;
}

export function has(message: object | undefined, key: string): boolean {
  return message !== undefined && Object.prototype.hasOwnProperty.call(message, key);
}
