/**
 * A token search value (`code`, `system|code`, `|code`, `system|`) as R4 search §3.1.1.4.10 reads it, with the `\|`,
 * `\,`, `\$` and `\\` escapes undone: `system` is undefined when there is no bar, '' for `|code`.
 */
export function splitTokenValue(value: string): { system?: string; code: string } {
  const unescape = (s: string): string => s.replace(/\\([|,$\\])/g, '$1');
  const bar = value.search(/(?<!\\)\|/);
  if (bar < 0) return { code: unescape(value) };
  return { system: unescape(value.slice(0, bar)), code: unescape(value.slice(bar + 1)) };
}
