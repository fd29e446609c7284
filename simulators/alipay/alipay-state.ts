import crypto from 'node:crypto';

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED';

export interface AlipayTrade {
  outTradeNo: string;
  tradeNo: string;
  subject: string;
  body?: string;
  /** 分; the wire carries 元 with two decimals. */
  total: number;
  buyerId: string;
  buyerLogonId: string;
  notifyUrl?: string;
  status: TradeStatus;
  createdAt: Date;
  paidAt?: Date;
  closedAt?: Date;
}

export interface AlipayRefund {
  outTradeNo: string;
  /** out_request_no; the trade's out_trade_no when the merchant gave none (a single full refund). */
  outRequestNo: string;
  reason?: string;
  refund: number;
  /** A refund the gateway has accepted but not yet paid out (fund_change N): completed from the control API. */
  done: boolean;
  createdAt: Date;
  refundedAt?: Date;
}

const BEIJING_MS = 8 * 3600_000;
const beijing = (d: Date) => new Date(d.getTime() + BEIJING_MS).toISOString();
/** Alipay speaks China Standard Time without an offset: `yyyy-MM-dd HH:mm:ss`. */
export const alipayTime = (d: Date) => beijing(d).slice(0, 19).replace('T', ' ');
export const beijingDate = (d: Date) => beijing(d).slice(0, 10);
const digits = (n: number) => Array.from({ length: n }, () => crypto.randomInt(10)).join('');

export const yuan = (fen: number) => `${fen < 0 ? '-' : ''}${Math.floor(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;

/** `88`, `88.8`, `88.80` → 8880 分; undefined for anything else (no floating point on money). */
export function fen(amount: string | undefined): number | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(amount ?? '');
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0')) : undefined;
}

/** The merchant's trades and refunds, as the gateway keeps them. */
export class AlipayState {
  readonly trades = new Map<string, AlipayTrade>();
  readonly refunds: AlipayRefund[] = [];

  addTrade(t: Pick<AlipayTrade, 'outTradeNo' | 'subject' | 'body' | 'total' | 'buyerId' | 'notifyUrl'>): AlipayTrade {
    const now = new Date();
    // 支付宝交易号: date, the 2200 channel marker, then digits — 28 characters.
    const trade: AlipayTrade = { ...t, tradeNo: `${beijingDate(now).replace(/-/g, '')}2200${digits(16)}`, buyerLogonId: '138****8000', status: 'WAIT_BUYER_PAY', createdAt: now };
    this.trades.set(trade.outTradeNo, trade);
    return trade;
  }

  find(outTradeNo?: string, tradeNo?: string): AlipayTrade | undefined {
    if (outTradeNo) return this.trades.get(outTradeNo);
    return [...this.trades.values()].find((t) => t.tradeNo === tradeNo);
  }

  pay(trade: AlipayTrade, at = new Date()): AlipayTrade {
    if (trade.status !== 'WAIT_BUYER_PAY') return trade;
    trade.status = 'TRADE_SUCCESS';
    trade.paidAt = at;
    return trade;
  }

  refundsOf(trade: AlipayTrade): AlipayRefund[] {
    return this.refunds.filter((r) => r.outTradeNo === trade.outTradeNo);
  }

  refunded(trade: AlipayTrade): number {
    return this.refundsOf(trade).reduce((s, r) => s + r.refund, 0);
  }

  addRefund(trade: AlipayTrade, r: { outRequestNo: string; refund: number; reason?: string }, done: boolean): AlipayRefund {
    const refund: AlipayRefund = { ...r, outTradeNo: trade.outTradeNo, done: false, createdAt: new Date() };
    this.refunds.push(refund);
    if (done) this.complete(refund);
    return refund;
  }

  /** Pays a refund out; a trade refunded in full is closed, as Alipay closes it. */
  complete(refund: AlipayRefund): AlipayRefund {
    if (refund.done) return refund;
    refund.done = true;
    refund.refundedAt = new Date();
    const trade = this.trades.get(refund.outTradeNo)!;
    const paidBack = this.refundsOf(trade).filter((r) => r.done).reduce((s, r) => s + r.refund, 0);
    if (paidBack >= trade.total) {
      trade.status = 'TRADE_CLOSED';
      trade.closedAt = refund.refundedAt;
    }
    return refund;
  }
}
