import { pharmacyCallbackEvent, pharmacyStatusEvent, platformStatusEvent } from '../../../mappings/circulation/peer-reports';
import { CirculationMappingError } from '../../../mappings/circulation/prescription-content';
import { json } from './circulation-fixtures';

describe('what the peers report, as circulation events', () => {
  it('reads the pharmacy 核销 callback as picked-up with every drug, 追溯码 and lot', () => {
    expect(pharmacyCallbackEvent(json('pharmacy-callback-redeemed.json'))).toEqual(json('out-pharmacy-callback-redeemed.event.json'));
  });

  it('reads accept, reject and 备药完成 callbacks', () => {
    const at = '2026-11-26T03:00:00.000Z';
    expect(pharmacyCallbackEvent({ event: 'accepted', rxNo: 'CF1', at })).toEqual({ kind: 'approved', rxNo: 'CF1', at });
    expect(pharmacyCallbackEvent({ event: 'rejected', rxNo: 'CF1', at, reason: '药品缺货' })).toEqual({ kind: 'rejected', rxNo: 'CF1', at, note: '药品缺货' });
    expect(pharmacyCallbackEvent({ event: 'dispensed', rxNo: 'CF1', at })).toEqual({ kind: 'awaiting-pickup', rxNo: 'CF1', at });
    expect(pharmacyCallbackEvent({ event: 'delivering', rxNo: 'CF1', at })).toEqual({ kind: 'delivering', rxNo: 'CF1', at });
  });

  it('reads a pharmacy order status as the event its callback would carry, at the time in its history', () => {
    const polledAt = '2026-11-26T09:00:00.000Z';
    const history = [{ status: 'received', at: '2026-11-26T03:00:00.000Z' }, { status: 'accepted', at: '2026-11-26T03:10:00.000Z' }];
    const poll = (order: object) => pharmacyStatusEvent({ task: 'Task/t1', rxNo: 'CF1', polledAt, order });
    expect(poll({ status: 'received', history: history.slice(0, 1) })).toBeUndefined();
    expect(poll({ status: 'accepted', history })).toEqual({ kind: 'approved', rxNo: 'CF1', at: '2026-11-26T03:10:00.000Z' });
    expect(poll({ status: 'rejected', history: [...history.slice(0, 1), { status: 'rejected', at: '2026-11-26T03:20:00.000Z', note: '药品缺货' }] }))
      .toEqual({ kind: 'rejected', rxNo: 'CF1', at: '2026-11-26T03:20:00.000Z', note: '药品缺货' });
    expect(poll({ status: 'dispensed' })).toEqual({ kind: 'awaiting-pickup', rxNo: 'CF1', at: polledAt });
    expect(poll({ status: 'delivering' })).toEqual({ kind: 'delivering', rxNo: 'CF1', at: polledAt });
    expect(poll({ status: 'cancelled', history: [{ status: 'cancelled', at: polledAt, note: '缺货' }] })).toEqual({ kind: 'cancelled', rxNo: 'CF1', at: polledAt, note: '药房取消：缺货' });
  });

  it('reads a picked-up order with its redemption as the 核销 callback reads', () => {
    const callback = json<{ redeemedAt: string; pharmacy: string; drugs: object[] }>('pharmacy-callback-redeemed.json');
    const order = { status: 'picked_up', redemption: { redeemedAt: callback.redeemedAt, pharmacy: callback.pharmacy, drugs: callback.drugs } };
    expect(pharmacyStatusEvent({ task: 'Task/t1', rxNo: (callback as unknown as { rxNo: string }).rxNo, polledAt: '2026-11-27T00:00:00.000Z', order }))
      .toEqual(json('out-pharmacy-callback-redeemed.event.json'));
  });

  it('refuses a callback event it does not know, naming it', () => {
    expect(() => pharmacyCallbackEvent({ event: 'teleported', rxNo: 'CF1', at: '2026-11-26T03:00:00Z' })).toThrow(new CirculationMappingError('pharmacy callback for CF1: unknown event "teleported"'));
  });

  it('reads the platform 取药 answer as picked-up at the settlement time (Beijing)', () => {
    expect(platformStatusEvent(json('platform-status-dispensed.json'))).toEqual(json('out-platform-status-dispensed.event.json'));
  });

  it('reads the platform 审方 answer: passed, not passed, still waiting', () => {
    const base = { task: 'Task/t1', rxNo: 'CF1', hiRxno: 'HRX1', polledAt: '2026-11-26T03:00:00.000Z' };
    expect(platformStatusEvent({ ...base, review: { rx_chk_stas_codg: '1', rx_chk_opnn: '审核通过', rx_chk_time: '2026-11-26 10:30:00' }, settlement: { setl_flag: '0' } }))
      .toEqual({ kind: 'approved', rxNo: 'CF1', at: '2026-11-26T10:30:00+08:00', note: '审核通过' });
    expect(platformStatusEvent({ ...base, review: { rx_chk_stas_codg: '2', rx_chk_opnn: '用药不适宜', rx_chk_time: '2026-11-26 10:30:00' } }))
      .toEqual({ kind: 'rejected', rxNo: 'CF1', at: '2026-11-26T10:30:00+08:00', note: '用药不适宜' });
    expect(platformStatusEvent({ ...base, review: { rx_chk_stas_codg: '0', rx_chk_opnn: '', rx_chk_time: '' } })).toBeUndefined();
  });
});
