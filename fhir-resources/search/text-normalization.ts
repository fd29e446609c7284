import { pinyin } from 'pinyin-pro';

/**
 * How string and token-text values are compared: case- and accent-insensitive (FHIR string search, R4 §3.1.1.5.8),
 * and for Chinese text also by pinyin (拼音) — full syllables and initials (首字母, `zs` for 张三) — which is how
 * staff and patients type names and item names on phone keyboards.
 */

/** Index columns hold at most this many characters; longer values are cut (prefix search still works). */
export const INDEXED_TEXT_LENGTH = 255;

const CHINESE = /[\u3400-\u9fff\uf900-\ufaff]/;

export function hasChinese(text: string): boolean {
  return CHINESE.test(text);
}

export function normalizeText(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().trim().slice(0, INDEXED_TEXT_LENGTH);
}

export interface PinyinKeys {
  initials: string;
  full: string;
}

/** Pinyin of a value containing Chinese characters (spaces dropped so `zs` and `z s` compare alike); undefined otherwise. */
export function pinyinKeys(text: string): PinyinKeys | undefined {
  if (!hasChinese(text)) return undefined;
  const options = { toneType: 'none', type: 'array', nonZh: 'consecutive', v: true } as const;
  const initials = pinyin(text, { ...options, pattern: 'first' }).join('');
  const full = pinyin(text, options).join('');
  return { initials: squeeze(initials), full: squeeze(full) };
}

/** A query as it is compared with the pinyin columns: lowercase ASCII letters and digits without spaces. */
export function pinyinQuery(query: string): string | undefined {
  const q = squeeze(query);
  return /^[a-z][a-z0-9]*$/.test(q) ? q : undefined;
}

function squeeze(text: string): string {
  return normalizeText(text).replace(/\s+/g, '');
}

/** LIKE pattern fragment with `!` as the escape character (a backslash means different things per dialect). */
export function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}
