import type { Money } from '@medplum/fhirtypes';
import { AMOUNT_FEN_EXTENSION } from './billing-vocabulary';

/**
 * Money is kept in 分 (integers) everywhere; FHIR's Money.value is a decimal, so each Money also carries the integer
 * in an extension and every computation reads that. The decimal is written from the integer by string arithmetic,
 * never by dividing floats.
 */
export function money(fen: number): Money {
  if (!Number.isSafeInteger(fen)) throw new Error(`an amount in 分 must be an integer, not ${fen}`);
  return { value: Number(yuanText(fen)), currency: 'CNY', extension: [{ url: AMOUNT_FEN_EXTENSION, valueInteger: fen }] } as Money;
}

/** 2050 → "20.50", -5 → "-0.05": the text bills, HIS messages and gateways (元) want. */
export function yuanText(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** "20.5", "20.50", "20" → 2050; undefined for anything that is not a non-negative amount with at most 2 decimals. */
export function fenOfYuan(text: string): number | undefined {
  const m = /^\s*(-?)(\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return undefined;
  const fen = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -fen : fen;
}

/** The amount of a Money in 分: its extension, or (for Money written elsewhere) its decimal value read as text. */
export function fenOf(m: Money | undefined): number | undefined {
  if (!m) return undefined;
  const ext = (m as { extension?: { url: string; valueInteger?: number }[] }).extension?.find((e) => e.url === AMOUNT_FEN_EXTENSION);
  if (ext && Number.isSafeInteger(ext.valueInteger)) return ext.valueInteger;
  return m.value === undefined ? undefined : fenOfYuan(String(m.value));
}
