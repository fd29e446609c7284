/**
 * The query of a payment simulator's "send the notification" control routes: `?times=N` (default 1; 0 = pay or refund
 * silently, a lost notification; N > 1 = duplicates arriving together) and `&tamper=…` (a spoiled notification).
 * Returns the reason as a string when the query is not usable.
 */
export function notifyOptions<T extends string>(q: Record<string, unknown>, tampers: readonly T[]): { times: number; tamper?: T } | string {
  const times = Number(q.times ?? 1);
  const tamper = q.tamper === undefined ? undefined : (String(q.tamper) as T);
  if (!Number.isInteger(times) || times < 0 || times > 50) return 'times must be an integer from 0 to 50';
  if (tamper && !tampers.includes(tamper)) return `tamper must be one of ${tampers.join(', ')}`;
  return { times, tamper };
}
