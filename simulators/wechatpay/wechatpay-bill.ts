import type { WechatPayKeys } from './wechatpay-keys';
import { billDate, billTime, WechatOrder, WechatPayState, WechatRefund } from './wechatpay-state';

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND';

// formats.md 1.5: the 27-column ALL layout in use since 2018; SUCCESS drops the refund columns, REFUND adds two times.
const ALL = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'.split(',');
const REFUND_ONLY = new Set(['微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '申请退款金额']);
const HEADERS: Record<BillType, string[]> = {
  ALL,
  SUCCESS: ALL.filter((c) => !REFUND_ONLY.has(c)),
  REFUND: [...ALL.slice(0, ALL.indexOf('代金券金额') + 1), '退款申请时间', '退款成功时间', ...ALL.slice(ALL.indexOf('代金券金额') + 1)],
};
const SUMMARY = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
/** The 费率 of an ordinary merchant; 手续费 is kept to 5 decimals of a 元, so it is computed in 0.00001 元 units. */
const RATE = '0.60%';
const FEE_UNITS_PER_FEN = 6;

const yuan = (fen: number) => `${fen < 0 ? '-' : ''}${Math.floor(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;
const fee = (units: number) => `${units < 0 ? '-' : ''}${Math.floor(Math.abs(units) / 100000)}.${String(Math.abs(units) % 100000).padStart(5, '0')}`;

interface Row {
  at: Date;
  values: Record<string, string>;
  settled: number;
  refunded: number;
  feeUnits: number;
  ordered: number;
  refundAsked: number;
}

function paymentRow(o: WechatOrder, keys: WechatPayKeys): Row {
  const feeUnits = o.total * FEE_UNITS_PER_FEN;
  return {
    at: o.successTime!, settled: o.total, refunded: 0, feeUnits, ordered: o.total, refundAsked: 0,
    values: {
      交易时间: billTime(o.successTime!), 公众账号ID: o.appid, 商户号: keys.mchid, 特约商户号: '0', 设备号: '', 微信订单号: o.transactionId!,
      商户订单号: o.outTradeNo, 用户标识: o.openid, 交易类型: o.tradeType, 交易状态: 'SUCCESS', 付款银行: 'OTHERS', 货币种类: o.currency,
      应结订单金额: yuan(o.total), 代金券金额: '0.00', 微信退款单号: '0', 商户退款单号: '0', 退款金额: '0.00', 充值券退款金额: '0.00',
      退款类型: '', 退款状态: '', 商品名称: o.description, 商户数据包: o.attach ?? '', 手续费: fee(feeUnits), 费率: RATE,
      订单金额: yuan(o.total), 申请退款金额: '0.00', 费率备注: '',
    },
  };
}

function refundRow(r: WechatRefund, o: WechatOrder, keys: WechatPayKeys): Row {
  // A refund row carries the time the refund was accepted, 应结 0.00 and the fee given back (negative).
  const feeUnits = -r.refund * FEE_UNITS_PER_FEN;
  return {
    at: r.createdAt, settled: 0, refunded: r.refund, feeUnits, ordered: 0, refundAsked: r.refund,
    values: {
      ...paymentRow(o, keys).values,
      交易时间: billTime(r.createdAt), 交易状态: 'REFUND', 应结订单金额: '0.00', 微信退款单号: r.refundId, 商户退款单号: r.outRefundNo,
      退款金额: yuan(r.refund), 退款类型: 'ORIGINAL', 退款状态: r.status === 'SUCCESS' ? 'SUCCESS' : r.status === 'PROCESSING' ? 'PROCESSING' : 'FAIL',
      手续费: fee(feeUnits), 订单金额: '0.00', 申请退款金额: yuan(r.refund),
      退款申请时间: billTime(r.createdAt), 退款成功时间: r.successTime ? billTime(r.successTime) : '',
    },
  };
}

/**
 * The 交易账单 of one Beijing day: header, detail rows with every value prefixed by a backquote (so that spreadsheets keep
 * long numbers as text), the summary header and its row; CRLF line ends. Undefined when the day has no trade, which the
 * API answers with NO_STATEMENT_EXIST. Unpaid and closed orders are absent.
 */
export function tradeBill(state: WechatPayState, keys: WechatPayKeys, date: string, type: BillType): string | undefined {
  const rows: Row[] = [];
  if (type !== 'REFUND') {
    for (const o of state.orders.values()) if (o.successTime && billDate(o.successTime) === date) rows.push(paymentRow(o, keys));
  }
  if (type !== 'SUCCESS') {
    for (const r of state.refunds.values()) if (billDate(r.createdAt) === date) rows.push(refundRow(r, state.orders.get(r.outTradeNo)!, keys));
  }
  if (rows.length === 0) return undefined;
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  const header = HEADERS[type];
  const sum = (f: (r: Row) => number) => rows.reduce((s, r) => s + f(r), 0);
  const lines = [
    header.join(','),
    ...rows.map((r) => header.map((c) => `\`${r.values[c] ?? ''}`).join(',')),
    SUMMARY,
    [String(rows.length), yuan(sum((r) => r.settled)), yuan(sum((r) => r.refunded)), '0.00', fee(sum((r) => r.feeUnits)), yuan(sum((r) => r.ordered)), yuan(sum((r) => r.refundAsked))].map((v) => `\`${v}`).join(','),
  ];
  return `${lines.join('\r\n')}\r\n`;
}
