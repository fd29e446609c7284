import iconv from 'iconv-lite';
import type { AlipayKeys } from './alipay-keys';
import { AlipayState, AlipayTrade, alipayTime, beijingDate, yuan } from './alipay-state';
import { gbkZip } from './gbk-zip';

// formats.md 2.1: the 25-column 业务明细 header, full-width brackets.
const DETAIL_HEADER = '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';
const SUMMARY_HEADER = '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）';
const RULE = '#-----------------------------------------';
/** [I] 服务费 at the ordinary 0.6% rate, rounded to the 分, shown negative on a trade (it is taken) and given back on a refund. */
const feeOf = (fen: number) => Math.round((fen * 6) / 1000);

interface Line {
  at: Date;
  cells: string[];
  amount: number;
  fee: number;
  refund: boolean;
}

// Identifiers and text columns end in a tab, as the real files have it, so that spreadsheets keep them as text.
const detail = (t: AlipayTrade, kind: '交易' | '退款', finished: Date, amount: number, fee: number, batch: string): string[] => [
  `${t.tradeNo}\t`, `${t.outTradeNo}\t`, `${kind}\t`, t.subject, alipayTime(t.createdAt), alipayTime(finished), '\t', '\t', '\t', '\t',
  `*建国(${t.buyerLogonId})\t`, yuan(amount), yuan(amount), '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00\t', '0.00',
  batch ? `${batch}\t` : '\t', yuan(fee), '0.00', t.body ?? t.subject,
];

/** `yyyy-MM-dd` or `yyyy-MM`: the period's start and end as the bill's head line prints them. */
function period(billDate: string): { from: string; to: string; stamp: string } {
  const [y, m, d] = billDate.split('-').map(Number);
  const start = new Date(Date.UTC(y, m - 1, d ?? 1));
  const end = d ? new Date(Date.UTC(y, m - 1, d + 1)) : new Date(Date.UTC(y, m, 1));
  const cn = (x: Date) => `${x.getUTCFullYear()}年${String(x.getUTCMonth() + 1).padStart(2, '0')}月${String(x.getUTCDate()).padStart(2, '0')}日 00:00:00`;
  return { from: cn(start), to: cn(end), stamp: billDate.replace(/-/g, '') };
}

const cnNow = (d: Date) => {
  const s = alipayTime(d);
  return `${s.slice(0, 4)}年${s.slice(5, 7)}月${s.slice(8, 10)}日 ${s.slice(11)}`;
};

/**
 * The trade bill of a day (`yyyy-MM-dd`) or a month (`yyyy-MM`): `{PID}0156_{date}.csv.zip` holding 业务明细 and
 * 业务明细(汇总), GBK inside and in the member names. Undefined when the period has no trade (isp.bill_not_exist).
 */
export function tradeBillZip(state: AlipayState, keys: AlipayKeys, billDate: string, now = new Date()): { fileName: string; zip: Buffer } | undefined {
  const inPeriod = (d: Date) => beijingDate(d).startsWith(billDate);
  const lines: Line[] = [];
  for (const t of state.trades.values()) {
    if (t.paidAt && inPeriod(t.paidAt)) lines.push({ at: t.paidAt, cells: detail(t, '交易', t.paidAt, t.total, -feeOf(t.total), ''), amount: t.total, fee: -feeOf(t.total), refund: false });
  }
  for (const r of state.refunds) {
    if (!r.refundedAt || !inPeriod(r.refundedAt)) continue;
    const t = state.trades.get(r.outTradeNo)!;
    lines.push({ at: r.refundedAt, cells: detail(t, '退款', r.refundedAt, -r.refund, feeOf(r.refund), r.outRequestNo), amount: -r.refund, fee: feeOf(r.refund), refund: true });
  }
  if (lines.length === 0) return undefined;
  lines.sort((a, b) => a.at.getTime() - b.at.getTime());
  const { from, to, stamp } = period(billDate);
  const account = `${keys.pid}0156`;
  const head = (title: string) => [title, `#账号：[${account}]`, `#起始日期：[${from}]   终止日期：[${to}]`];
  const sum = (refund: boolean, f: (l: Line) => number) => lines.filter((l) => l.refund === refund).reduce((s, l) => s + f(l), 0);
  const trades = lines.filter((l) => !l.refund).length;
  const refunds = lines.length - trades;
  const exported = `#导出时间：[${cnNow(now)}]`;
  const detailCsv = [
    ...head('#支付宝业务明细查询'),
    `${RULE}业务明细列表----------------------------------------`,
    DETAIL_HEADER,
    ...lines.map((l) => l.cells.join(',')),
    `${RULE}业务明细列表结束------------------------------------`,
    `#交易合计：${trades}笔，商家实收共${yuan(sum(false, (l) => l.amount))}元，商家优惠共0.00元`,
    `#退款合计：${refunds}笔，商家实收退款共${yuan(sum(true, (l) => l.amount))}元，商家优惠退款共0.00元`,
    exported,
  ];
  const total = sum(false, (l) => l.amount) + sum(true, (l) => l.amount);
  const fees = sum(false, (l) => l.fee) + sum(true, (l) => l.fee);
  const totals = [String(trades), String(refunds), yuan(total), yuan(total), '0.00', '0.00', '0.00', yuan(fees), '0.00', yuan(total + fees)];
  const summaryCsv = [
    ...head('#支付宝业务汇总查询'),
    `${RULE}业务汇总列表----------------------------------------`,
    SUMMARY_HEADER,
    ['', '', ...totals].join(','),
    ['合计', '', ...totals].join(','),
    `${RULE}业务汇总列表结束-----------------------------------`,
    exported,
  ];
  const gbk = (rows: string[]) => iconv.encode(`${rows.join('\r\n')}\r\n`, 'gbk');
  const base = `${account}_${stamp}`;
  return {
    fileName: `${base}.csv.zip`,
    zip: gbkZip([{ name: `${base}_业务明细.csv`, data: gbk(detailCsv) }, { name: `${base}_业务明细(汇总).csv`, data: gbk(summaryCsv) }], now),
  };
}
