/**
 * Both gateways speak China Standard Time (UTC+8, no daylight saving): WeChat Pay as RFC 3339 with +08:00, Alipay as
 * `yyyy-MM-dd HH:mm:ss` without an offset.
 */
const BEIJING_MS = 8 * 3600_000;

const shifted = (d: Date) => new Date(d.getTime() + BEIJING_MS).toISOString().slice(0, 19);

/** 2026-11-26T12:00:00+08:00 */
export const beijingRfc3339 = (d: Date): string => `${shifted(d)}+08:00`;

/** 2026-11-26 12:00:00 */
export const beijingText = (d: Date): string => shifted(d).replace('T', ' ');

/** Alipay's `2026-11-26 12:00:00` (milliseconds sometimes follow) as ISO 8601 with its offset; undefined if not a time. */
export function isoOfBeijingText(text: string | undefined): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.\d+)?$/.exec(text?.trim() ?? '');
  return m ? `${m[1]}T${m[2]}+08:00` : undefined;
}
