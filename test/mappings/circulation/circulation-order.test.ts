import type { Invoice, MedicationRequest, Organization, Task } from '@medplum/fhirtypes';
import { circulationOrder } from '../../../mappings/circulation/circulation-order';
import { CirculationMappingError } from '../../../mappings/circulation/prescription-content';
import { json, paidPrescription, ROUTES } from './circulation-fixtures';

const order = (task: Task, referenced = paidPrescription().referenced) => circulationOrder({ task, referenced, routes: ROUTES, validDays: 3 });

describe('a circulation Task as what goes to the peer', () => {
  it('maps a Task for a campus pharmacy to the platform upload (预核验 data and the prescription file)', () => {
    expect(order(paidPrescription().task)).toEqual(json('out-platform-upload.json'));
  });

  it('writes the prescription file as UTF-8 text naming the patient and every drug', () => {
    const result = order(paidPrescription().task);
    if (result.action !== 'circulate' || result.via !== 'platform') throw new Error('expected a platform upload');
    expect(Buffer.from(result.prescriptions[0].upload.rxFile, 'base64').toString('utf8')).toBe(json<{ text: string }>('out-platform-rx-file.json').text);
  });

  it('maps a Task for a third-party pharmacy to its order, with the Invoice pickup code', () => {
    const { task } = paidPrescription();
    expect(order({ ...task, owner: { reference: 'Organization/org-xh' } })).toEqual(json('out-pharmacy-order.json'));
  });

  it('maps a cancelled Task to the undo, with the reason the refund gave', () => {
    const { task } = paidPrescription();
    expect(order({ ...task, status: 'cancelled', statusReason: { text: '患者申请退费' } }))
      .toEqual({ action: 'undo', task: 'Task/task-rx-1', pharmacy: 'TY-MZYF', via: 'platform', rxNos: ['CF202611260031'], reason: '患者申请退费' });
  });

  it('sends each prescription of a Task on its own when its drugs belong to two', () => {
    const { task, referenced } = paidPrescription();
    const other = { ...(referenced['MedicationRequest/mr-2'] as MedicationRequest), groupIdentifier: { system: 'http://lingshu.health/sid/prescription-no', value: 'CF202611260032' } };
    const result = order({ ...task, owner: { reference: 'Organization/org-xh' } }, { ...referenced, 'MedicationRequest/mr-2': other });
    if (result.action !== 'circulate' || result.via !== 'api') throw new Error('expected pharmacy orders');
    expect(result.prescriptions.map((p) => [p.rxNo, p.order.drugs.map((d) => d.name)])).toEqual([['CF202611260031', ['阿莫西林胶囊']], ['CF202611260032', ['蓝芩口服液']]]);
  });

  it('refuses a drug without a 处方号, naming the MedicationRequest', () => {
    const { task, referenced } = paidPrescription();
    const { groupIdentifier: _g, ...loose } = referenced['MedicationRequest/mr-2'] as MedicationRequest;
    expect(() => order(task, { ...referenced, 'MedicationRequest/mr-2': loose as MedicationRequest })).toThrow(/MedicationRequest\/mr-2: no 处方号/);
  });

  it('refuses a pharmacy the configuration does not name', () => {
    const { task, referenced } = paidPrescription();
    const unknown: Organization = { ...(referenced['Organization/org-xh'] as Organization), identifier: [{ system: 'http://lingshu.health/sid/pharmacy-code', value: 'NOWHERE' }] };
    expect(() => order({ ...task, owner: { reference: 'Organization/org-xh' } }, { ...referenced, 'Organization/org-xh': unknown })).toThrow(CirculationMappingError);
  });

  it('refuses to send a third-party pharmacy an order without a pickup code', () => {
    const { task, referenced } = paidPrescription();
    const { input: _input, ...withoutInput } = task;
    const invoice: Invoice = { ...(referenced['Invoice/inv-1'] as Invoice), identifier: [] };
    expect(() => order({ ...withoutInput, owner: { reference: 'Organization/org-xh' } }, { ...referenced, 'Invoice/inv-1': invoice })).toThrow(/取药码/);
  });
});
