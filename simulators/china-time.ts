/** Now in China time, as the simulated peers' clocks write it: 2026-11-26T13:05:09.123+08:00. */
export function chinaNow(at = Date.now()): string {
  return `${new Date(at + 8 * 3600_000).toISOString().slice(0, 23)}+08:00`;
}
