import express from 'express';
import request from 'supertest';
import { PrescriptionPlatformPeer, prescriptionPlatformPeer, RX_BASE_PATH } from '../../../simulators/prescription-platform/prescription-platform-peer';

const HOSPITAL = 'H33010600001';
const PDF = Buffer.from('%PDF-1.4 处方笺 (test)').toString('base64');
const upload = {
  hosp_rxno: 'CF202611250001', rx_type_code: '1', prsc_time: '2026-11-25 10:10:00', valid_days: 3, rx_circ_flag: '1',
  rxdrugdetail: [{ med_list_codg: 'XA10BAE054A001010100483', drug_genname: '盐酸二甲双胍片', drug_spec: '0.5g', drug_cnt: 2, medc_way_codg: '1', used_frqu_codg: 'tid', medc_days: 30 }],
  mdtrtinfo: { mdtrt_id: 'MD001', med_type: '11', psn_no: '33000000000000000001', patn_name: '张建国', gend: '1' },
  diseinfo: [{ diag_code: 'E11.900', diag_name: '2型糖尿病' }],
};

describe('处方流转平台 simulator', () => {
  let peer: PrescriptionPlatformPeer;
  let control: express.Express;
  let seq = 0;
  const call = async (service: string, data: Record<string, unknown>, fixmedins = HOSPITAL) => {
    const res = await fetch(`${peer.url}${RX_BASE_PATH}/${service}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ msgid: `${fixmedins}20261125101000${String(++seq).padStart(4, '0')}`, fixmedins_code: fixmedins, inf_time: '2026-11-25 10:10:00', input: { data } }),
    });
    return { status: res.status, body: (await res.json()) as { infcode: number; err_msg: string; output: Record<string, any> } };
  };

  beforeAll(async () => {
    peer = prescriptionPlatformPeer({ fixmedinsCodes: [HOSPITAL, 'H33010600002'] });
    await peer.start();
    control = express().use('/_sim/prescription-platform', peer.control());
  });
  afterAll(async () => peer?.stop());

  it('takes 预核验, 签名 and 上传, then reports the pharmacist\'s review and the 取药 with 追溯码 to the hospital\'s queries', async () => {
    const checked = (await call('uploadChk', upload)).body;
    expect(checked).toMatchObject({ infcode: 0, output: { hi_rxno: expect.any(String), rx_trace_code: expect.any(String) } });
    const ids = { hi_rxno: checked.output.hi_rxno, rx_trace_code: checked.output.rx_trace_code };
    const signed = (await call('rxFixmedinsSign', { ...ids, original_rx_file: PDF })).body;
    expect(signed.output.sign_digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await call('rxFileUpld', { ...ids, rx_file: signed.output.rx_file })).body.output).toMatchObject({ rx_stas_codg: 'pending_review', rx_stas_name: '待审方' });
    expect((await call('rxChkInfoQuery', ids)).body.output.rx_chk_stas_codg).toBe('0');

    await request(control).post(`/_sim/prescription-platform/prescriptions/${ids.hi_rxno}/review`).send({ approve: true }).expect(200);
    expect((await call('rxChkInfoQuery', ids)).body.output).toMatchObject({ rx_chk_stas_codg: '1', rx_chk_opnn: '审核通过' });
    await request(control).post(`/_sim/prescription-platform/prescriptions/${ids.hi_rxno}/dispense`).send({ pharmacy: '北院药房' }).expect(200);
    const settled = (await call('rxSetlInfoQuery', ids)).body.output;
    expect(settled).toMatchObject({ setl_flag: '1', fixmedins_name: '北院药房', seldrugs: [expect.objectContaining({ drug_genname: '盐酸二甲双胍片', sel_retn_cnt: 2, drug_trac_codg: expect.stringMatching(/^8\d{19}$/) })] });
    expect((await call('rxUndo', { hi_rxno: ids.hi_rxno, undo_rea: '患者要求' })).body).toMatchObject({ infcode: -1, err_msg: '处方已取药，不能撤销' });
  });

  it('answers infcode -1 with the reason for a file other than the signed one, a missing drug list, another hospital\'s query and an unknown institution', async () => {
    const { output } = (await call('uploadChk', { ...upload, hosp_rxno: 'CF202611250002' })).body;
    const ids = { hi_rxno: output.hi_rxno, rx_trace_code: output.rx_trace_code };
    await call('rxFixmedinsSign', { ...ids, original_rx_file: PDF });
    expect((await call('rxFileUpld', { ...ids, rx_file: Buffer.from('another file').toString('base64') })).body).toMatchObject({ infcode: -1, err_msg: 'rx_file 与签名时的处方文件不一致' });
    expect((await call('uploadChk', { ...upload, hosp_rxno: 'CF3', rxdrugdetail: [] })).body).toMatchObject({ infcode: -1, err_msg: 'rxdrugdetail 不能为空' });
    expect((await call('hospRxDetlQuery', ids, 'H33010600002')).body.infcode).toBe(-1);
    expect((await call('uploadChk', upload, 'H99999999999')).body.err_msg).toContain('未开通');
  });

  it('answers HTTP 500 while told to, changing nothing, then answers again', async () => {
    await request(control).post('/_sim/prescription-platform/fail').query({ mode: '500', times: 1 }).expect(200);
    const before = peer.state.rx.size;
    expect((await call('uploadChk', { ...upload, hosp_rxno: 'CF4' })).status).toBe(500);
    expect(peer.state.rx.size).toBe(before);
    expect((await call('uploadChk', { ...upload, hosp_rxno: 'CF4' })).body.infcode).toBe(0);
  });
});
