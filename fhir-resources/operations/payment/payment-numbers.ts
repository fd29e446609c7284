import crypto from 'node:crypto';

/**
 * Numbers the payment workflow hands out. out_trade_no: WeChat allows 6–32 characters of [A-Za-z0-9_-|*], Alipay 64;
 * the time prefix keeps them sortable and readable in bills, the random tail unique across engine nodes.
 */
export function newOutTradeNo(now = new Date()): string {
  return `LS${beijingStamp(now)}${crypto.randomInt(0, 1e8).toString().padStart(8, '0')}`;
}

/** 取药码 / 凭据码: 8 digits, easy to read out at a window; uniqueness is checked against the store by the caller. */
export function newPickupCode(): string {
  return crypto.randomInt(0, 1e8).toString().padStart(8, '0');
}

/** yyyyMMddHHmmss in China time (bills and hospital staff read these). */
function beijingStamp(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
