/**
 * Masks for list views and logs, in the forms the hospital's UIs already use: an ID number keeps its first four and
 * last four characters (`4501**********1234`), a mobile number its first three and last four (`138****0000`).
 */
export function maskIdNumber(value: string): string {
  if (value.length <= 8) return '*'.repeat(value.length);
  return value.slice(0, 4) + '*'.repeat(value.length - 8) + value.slice(-4);
}

export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length < 7) return '*'.repeat(value.length);
  return digits.slice(0, 3) + '*'.repeat(digits.length - 7) + digits.slice(-4);
}

/** An address line keeps its first characters (district, road) and loses the house number and room. */
export function maskAddressLine(value: string): string {
  const keep = Math.min(6, Math.floor(value.length / 2));
  return value.slice(0, keep) + '****';
}
