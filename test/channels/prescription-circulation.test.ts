import { parseSearchRequest } from '@medplum/core';
import type { Organization } from '@medplum/fhirtypes';
import { pharmacySignedHeaders } from '../../adapters/circulation/pharmacy-signature';
import {
  DRUG_TRACE_CODE_SYSTEM, LOT_NUMBER_EXTENSION, ORGANIZATION_TYPE_SYSTEM,
} from '../../fhir-resources/billing/billing-vocabulary';
import { eventually } from '../support/engine-server';
import { APP_ID, circulationEngine, KEY } from './circulation-engine';

/**
 * 处方流转 end to end over HTTP: circulation Tasks written into the store reach the simulated 处方流转平台 and pharmacy;
 * the simulators' pharmacists (their control routes) review, dispense and 核销, and that comes back into the Task and
 * MedicationDispenses through the signed callbacks and the platform poll.
 */
const STACKS = [
  { name: 'SQLite + in-process bus', db: 'sqlite' as const, amqp: false },
  { name: 'PostgreSQL + RabbitMQ', db: 'postgres' as const, amqp: true },
  { name: 'MariaDB + in-process bus', db: 'mysql' as const, amqp: false },
];

for (const stack of STACKS) {
  describe(`prescription circulation on ${stack.name}`, () => {
    const fx = circulationEngine(stack);
    const { control, repo, task, state, reaches, output, dispensesOf, messages, paidPrescription, cancel, longAgo, versions, polledFor, callback, answerOf, platformRx } = fx;

    it('lists the configured pharmacies as Organizations of type pharmacy', async () => {
      const found = await repo().search(parseSearchRequest('Organization', { type: `${ORGANIZATION_TYPE_SYSTEM}|pharmacy`, _sort: 'name' }));
      expect((found.resources as Organization[]).map((o) => [o.identifier?.[0].value, o.name]).sort()).toEqual([
        ['BY-MZYF', '北院院区门诊药房'], ['TY-MZYF', '桃源院区门诊药房'], ['XH-DYF', '星湖大药房'],
      ]);
    });

    it('retries the upload after the platform fails with a 500, and uploads the prescription once', async () => {
      // First of the platform tests: nothing is in flight yet, so the poll takes no call and the failure hits the upload.
      await control('/prescription-platform/fail?mode=500&times=1');
      const { taskId, rxNo } = await paidPrescription('TY-MZYF');
      const circulated = await reaches(taskId, 'in-progress', 'circulated');
      expect(fx.platform.received.filter((r) => r.outcome === 'simulated 500').map((r) => r.path)).toEqual(['/fixmedins/uploadChk']);
      expect([...fx.platform.state.rx.values()].filter((r) => r.hospRxno === rxNo)).toHaveLength(1);
      expect(output(circulated, 'hi-rxno')).toBe(platformRx(rxNo)!.hiRxno);
    });
    it('uploads a Task for a campus pharmacy to the platform as uploadChk, sign and upload, and records it as circulated', async () => {
      const { taskId, rxNo } = await paidPrescription('TY-MZYF');
      const circulated = await reaches(taskId, 'in-progress', 'circulated');
      const rx = platformRx(rxNo)!;
      expect(rx.status).toBe('pending_review');
      expect(output(circulated, 'hi-rxno')).toBe(rx.hiRxno);
      expect(output(circulated, 'rx-trace-code')).toBe(rx.rxTraceCode);
      const calls = fx.platform.received.filter((r) => JSON.stringify(r.body).includes(rx.hiRxno) || JSON.stringify(r.body).includes(rxNo));
      expect(calls.map((c) => [c.path, c.outcome])).toEqual([
        ['/fixmedins/uploadChk', 'uploadChk ok'], ['/fixmedins/rxFixmedinsSign', 'rxFixmedinsSign ok'], ['/fixmedins/rxFileUpld', 'rxFileUpld ok'],
      ]);
    });

    it('brings the platform pharmacist\'s approval and the 取药 back through the poll, ending in MedicationDispenses', async () => {
      const { taskId, rxNo, requests } = await paidPrescription('BY-MZYF');
      await reaches(taskId, 'in-progress', 'circulated');
      const hiRxno = platformRx(rxNo)!.hiRxno;
      expect((await control(`/prescription-platform/prescriptions/${hiRxno}/review`, { approve: true })).status).toBe(200);
      await reaches(taskId, 'in-progress', 'approved');
      expect((await control(`/prescription-platform/prescriptions/${hiRxno}/dispense`, { pharmacy: '北院院区门诊药房' })).status).toBe(200);
      await reaches(taskId, 'completed', 'picked-up');
      const dispenses = await eventually(async () => ((await dispensesOf(taskId)).length === 2 ? dispensesOf(taskId) : undefined));
      const settled = platformRx(rxNo)!.settlement!.drugs;
      expect(dispenses.map((d) => [d.status, d.authorizingPrescription?.[0].reference, d.identifier?.find((i) => i.system === DRUG_TRACE_CODE_SYSTEM)?.value]).sort())
        .toEqual(requests.map((id, n) => ['completed', `MedicationRequest/${id}`, settled[n].drug_trac_codg]).sort());
    });

    it('turns a 审方驳回 at the platform into a rejected Task carrying the opinion', async () => {
      const { taskId, rxNo } = await paidPrescription('TY-MZYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await control(`/prescription-platform/prescriptions/${platformRx(rxNo)!.hiRxno}/review`, { approve: false, opinion: '超说明书用药' });
      const rejected = await reaches(taskId, 'rejected', 'rejected');
      expect(rejected.statusReason?.text).toBe('超说明书用药');
    });

    it('sends a Task for a third-party pharmacy as a signed order, and its accept, 备药 and 核销 callbacks complete it', async () => {
      const { taskId, rxNo, pickupCode, requests } = await paidPrescription('XH-DYF');
      const circulated = await reaches(taskId, 'in-progress', 'circulated');
      expect(output(circulated, 'pharmacy-order-id')).toBe(fx.pharmacy.orders.get(rxNo)!.orderId);
      expect(fx.pharmacy.orders.get(rxNo)).toMatchObject({ status: 'received', pickupCode, patient: { name: '张三' } });
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      await reaches(taskId, 'in-progress', 'approved');
      await control(`/pharmacy/prescriptions/${rxNo}/dispense`);
      await reaches(taskId, 'in-progress', 'awaiting-pickup');
      const pickup = await control<{ callback: { status: number } }>(`/pharmacy/prescriptions/${rxNo}/pickup`, { pickupCode });
      expect(pickup.body.callback.status).toBe(202);
      await reaches(taskId, 'completed', 'picked-up');
      const dispenses = await eventually(async () => ((await dispensesOf(taskId)).length === 2 ? dispensesOf(taskId) : undefined));
      expect(dispenses.map((d) => d.authorizingPrescription?.[0].reference).sort()).toEqual(requests.map((id) => `MedicationRequest/${id}`).sort());
      expect(dispenses.every((d) => d.identifier?.some((i) => i.system === DRUG_TRACE_CODE_SYSTEM) && d.extension?.some((e) => e.url === LOT_NUMBER_EXTENSION))).toBe(true);
      expect(dispenses.every((d) => d.whenHandedOver && d.performer?.[0].actor?.reference === circulated.owner?.reference)).toBe(true);
    });

    it('changes nothing when the pharmacy delivers the same 核销 callback twice', async () => {
      const { taskId, rxNo, pickupCode } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      await control(`/pharmacy/prescriptions/${rxNo}/pickup`, { pickupCode });
      const done = await reaches(taskId, 'completed', 'picked-up');
      await eventually(async () => ((await dispensesOf(taskId)).length === 2 ? true : undefined));
      const redeemed = fx.pharmacy.sent.filter((s) => JSON.stringify(s.body).includes(rxNo) && (s.body as { event?: string }).event === 'redeemed').at(-1)!;
      const body = JSON.stringify(redeemed.body);
      const again = await fetch(`${fx.base}/channels/pharmacy-callback`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...pharmacySignedHeaders(KEY, APP_ID, body) } });
      expect(again.status).toBe(202);
      const { messageId } = (await again.json()) as { messageId: string };
      const stored = await eventually(async () => {
        const m = await fx.messageStore.get(messageId);
        return m?.status === 'sent' ? m : undefined;
      });
      expect(stored.stages.find((s) => s.name === 'task')?.response).toContain('changes nothing');
      expect((await task(taskId)).meta?.versionId).toBe(done.meta?.versionId);
      expect(await dispensesOf(taskId)).toHaveLength(2);
    });

    it('refuses a callback whose signature does not verify with 401, storing nothing', async () => {
      const before = (await messages('pharmacy-callback')).length;
      const body = JSON.stringify({ event: 'redeemed', rxNo: 'CF-FORGED', at: new Date().toISOString(), drugs: [] });
      const forged = await fetch(`${fx.base}/channels/pharmacy-callback`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...pharmacySignedHeaders('not-the-key', APP_ID, body) } });
      expect(forged.status).toBe(401);
      expect(await forged.json()).toEqual({ code: 'SIGN_ERROR', message: 'X-Sign does not verify' });
      expect(await messages('pharmacy-callback')).toHaveLength(before);
    });

    it('undoes a cancelled Task at the platform with rxUndo', async () => {
      const { taskId, rxNo } = await paidPrescription('TY-MZYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await cancel(taskId);
      await reaches(taskId, 'cancelled', 'cancelled');
      expect(platformRx(rxNo)!.status).toBe('revoked');
      expect(platformRx(rxNo)!.undo?.reason).toBe('患者申请退费');
    });

    it('undoes a cancelled Task at the pharmacy with its cancel', async () => {
      const { taskId, rxNo } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await cancel(taskId);
      await reaches(taskId, 'cancelled', 'cancelled');
      expect(fx.pharmacy.orders.get(rxNo)!.status).toBe('cancelled');
    });

    it('notes on the Task why the pharmacy refused the undo of drugs already dispensed, keeping the business state', async () => {
      const { taskId, rxNo } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      await control(`/pharmacy/prescriptions/${rxNo}/dispense`);
      await reaches(taskId, 'in-progress', 'awaiting-pickup');
      await cancel(taskId);
      const noted = await eventually(async () => {
        const t = await task(taskId);
        return t.note?.some((n) => n.text?.startsWith('撤销失败')) ? t : undefined;
      });
      expect(state(noted)).toEqual(['cancelled', 'awaiting-pickup']);
      expect(noted.note?.find((n) => n.text?.startsWith('撤销失败'))?.text).toContain('不能取消');
      expect(fx.pharmacy.orders.get(rxNo)!.status).toBe('dispensed');
    });

    it('circulates the two prescriptions of one Task on their own, and completes the Task when both are picked up', async () => {
      const { taskId, rxNo, rxNo2, requests } = await paidPrescription('TY-MZYF', { split: true });
      const circulated = await reaches(taskId, 'in-progress', 'circulated');
      const [first, second] = [platformRx(rxNo)!, platformRx(rxNo2)!];
      expect([first.status, second.status]).toEqual(['pending_review', 'pending_review']);
      expect(circulated.identifier?.map((i) => i.value)).toEqual([rxNo, rxNo2]);
      await control(`/prescription-platform/prescriptions/${first.hiRxno}/review`, { approve: true });
      await control(`/prescription-platform/prescriptions/${first.hiRxno}/dispense`);
      await eventually(async () => ((await dispensesOf(taskId)).length === 1 ? true : undefined), 30_000);
      expect(state(await task(taskId))).toEqual(['in-progress', 'circulated']);
      expect((await dispensesOf(taskId))[0].authorizingPrescription?.[0].reference).toBe(`MedicationRequest/${requests[0]}`);
      await control(`/prescription-platform/prescriptions/${second.hiRxno}/review`, { approve: true });
      await control(`/prescription-platform/prescriptions/${second.hiRxno}/dispense`);
      await reaches(taskId, 'completed', 'picked-up');
      expect((await dispensesOf(taskId)).map((d) => d.authorizingPrescription?.[0].reference).sort()).toEqual(requests.map((id) => `MedicationRequest/${id}`).sort());
    });

    it('marks the Task failed with the pharmacy\'s reason when it refuses the prescription', async () => {
      const { taskId: sent, rxNo } = await paidPrescription('XH-DYF');
      await reaches(sent, 'in-progress', 'circulated');
      const { taskId } = await paidPrescription('XH-DYF', { rxNo, quantity: 5 });
      const failed = await reaches(taskId, 'failed', 'pending-review');
      expect(failed.note?.at(-1)?.text).toContain('RX_CONFLICT');
      expect(fx.pharmacy.orders.get(rxNo)!.drugs[0].quantity).toBe(2);
    });

    it('makes up lost pharmacy callbacks by asking the pharmacy, completing the Task with its MedicationDispenses', async () => {
      const { taskId, rxNo, pickupCode, requests } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      expect((await control('/pharmacy/callbacks/off')).body).toEqual({ callbacks: 'off' });
      try {
        const accepted = await control<{ callback: { sent: boolean } }>(`/pharmacy/prescriptions/${rxNo}/accept`);
        expect(accepted.body.callback).toMatchObject({ sent: false });
        await reaches(taskId, 'in-progress', 'approved');
        await control(`/pharmacy/prescriptions/${rxNo}/dispense`);
        await reaches(taskId, 'in-progress', 'awaiting-pickup');
        await control(`/pharmacy/prescriptions/${rxNo}/pickup`, { pickupCode });
      } finally {
        await control('/pharmacy/callbacks/on');
      }
      const done = await reaches(taskId, 'completed', 'picked-up');
      const dispenses = await eventually(async () => ((await dispensesOf(taskId)).length === 2 ? dispensesOf(taskId) : undefined));
      const redeemed = fx.pharmacy.orders.get(rxNo)!.redemption!;
      expect(dispenses.map((d) => [d.authorizingPrescription?.[0].reference, d.identifier?.find((i) => i.system === DRUG_TRACE_CODE_SYSTEM)?.value]).sort())
        .toEqual(requests.map((id, n) => [`MedicationRequest/${id}`, redeemed.drugs[n].traceCode]).sort());
      expect(fx.pharmacy.sent.filter((s) => JSON.stringify(s.body).includes(rxNo))).toEqual([]);

      // The callback, delivered late after all, finds the 核销 already recorded.
      const late = await callback({ event: 'redeemed', rxNo, orderId: fx.pharmacy.orders.get(rxNo)!.orderId, status: 'picked_up', at: new Date().toISOString(), pickupCode, ...redeemed });
      expect(late.status).toBe(202);
      expect(await answerOf(late)).toContain('changes nothing');
      expect((await task(taskId)).meta?.versionId).toBe(done.meta?.versionId);
      expect(await dispensesOf(taskId)).toHaveLength(2);
    });

    it('changes the Task once when the callback and then the poll report the same acceptance', async () => {
      const { taskId, rxNo } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      const before = await versions(taskId);
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      await reaches(taskId, 'in-progress', 'approved');
      // Two more polls of this prescription, each answering accepted.
      const asked = polledFor(rxNo);
      await eventually(async () => (polledFor(rxNo) >= asked + 2 ? true : undefined), 30_000);
      expect(state(await task(taskId))).toEqual(['in-progress', 'approved']);
      expect(await versions(taskId)).toBe(before + 1);
    });

    it('shows a delivery order the pharmacy dispatched as delivering, and completes it at 签收', async () => {
      const { taskId, rxNo, pickupCode } = await paidPrescription('XH-DYF', { delivery: true });
      await reaches(taskId, 'in-progress', 'circulated');
      expect(fx.pharmacy.orders.get(rxNo)!.delivery).toBe('delivery');
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      await control(`/pharmacy/prescriptions/${rxNo}/dispense`);
      await reaches(taskId, 'in-progress', 'awaiting-pickup');
      expect((await control(`/pharmacy/prescriptions/${rxNo}/dispatch`)).status).toBe(200);
      const delivering = await reaches(taskId, 'in-progress', 'delivering');
      expect(delivering.businessStatus?.text).toBe('配送中');
      await control(`/pharmacy/prescriptions/${rxNo}/pickup`, { pickupCode });
      await reaches(taskId, 'completed', 'picked-up');
    });

    it('refuses to dispatch an order the patient picks up at the counter', async () => {
      const { taskId, rxNo } = await paidPrescription('XH-DYF');
      await reaches(taskId, 'in-progress', 'circulated');
      await control(`/pharmacy/prescriptions/${rxNo}/accept`);
      expect((await control(`/pharmacy/prescriptions/${rxNo}/dispatch`)).status).toBe(409);
    });

    it('expires a prescription not picked up at the pharmacy within its validity, cancelling it there', async () => {
      const { taskId, rxNo } = await paidPrescription('XH-DYF', { authoredOn: longAgo() });
      const expired = await reaches(taskId, 'cancelled', 'expired');
      expect(expired.businessStatus?.text).toBe('已过期');
      expect(expired.statusReason?.text).toContain('超过有效期');
      await eventually(async () => (fx.pharmacy.orders.get(rxNo)?.status === 'cancelled' ? true : undefined), 30_000);
      expect(state(await task(taskId))).toEqual(['cancelled', 'expired']);
    });

    it('expires a prescription not picked up at a campus pharmacy within its validity, undoing it at the platform', async () => {
      const { taskId, rxNo } = await paidPrescription('BY-MZYF', { authoredOn: longAgo() });
      await reaches(taskId, 'cancelled', 'expired');
      await eventually(async () => (platformRx(rxNo)?.status === 'revoked' ? true : undefined), 30_000);
      expect(platformRx(rxNo)!.undo?.reason).toBe('已过期：超过有效期未取药，撤销流转并申请退费');
    });

    it('leaves a Task without a pharmacy alone (the drugs are handed over at the hospital counter)', async () => {
      const before = (await messages('prescription-circulation')).filter((m) => m.status === 'filtered').length;
      const { taskId } = await paidPrescription(undefined);
      await eventually(async () => ((await messages('prescription-circulation')).filter((m) => m.status === 'filtered').length > before ? true : undefined));
      expect(state(await task(taskId))).toEqual(['requested', 'pending-review']);
    });

  });
}
