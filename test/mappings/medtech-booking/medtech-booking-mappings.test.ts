import fs from 'node:fs';
import path from 'node:path';
import { cancellationNotice } from '../../../mappings/medtech-booking/cancellation-notice';
import { slotSnapshotToBundle } from '../../../mappings/medtech-booking/slot-snapshot';

const FIXTURES = path.join(__dirname, '../../fixtures/medtech-booking');
const text = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const json = (name: string) => JSON.parse(text(name));

describe('医技预约 platform JSON → FHIR', () => {
  it('maps a 号源 snapshot to the campus Location, the item × campus Schedule and one Slot per 号源: free, full (busy) and 停诊 (busy-unavailable)', () => {
    expect(slotSnapshotToBundle(text('slots-dr-taoyuan.json'))).toEqual(json('slots-dr-taoyuan.bundle.json'));
  });

  it('maps a 停诊 notice to the booking to cancel, the platform reason and the slot as it now is', () => {
    expect(cancellationNotice(text('notice-stopped.json'))).toEqual(json('notice-stopped.cancellation.json'));
  });

  it('names the JSON path of a slot with a malformed date', () => {
    const snapshot = json('slots-dr-taoyuan.json');
    snapshot.slots[1].date = '2026/11/27';
    expect(slotSnapshotToBundle(JSON.stringify(snapshot))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', expression: ['slots[1].date'] }] });
  });

  it('refuses a snapshot holding a 号源 of another item', () => {
    const snapshot = json('slots-dr-taoyuan.json');
    snapshot.slots[0].itemCode = '210300101';
    expect(slotSnapshotToBundle(JSON.stringify(snapshot))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['slots'] }] });
  });

  it('refuses a notice about a booking that is still booked', () => {
    const notice = json('notice-stopped.json');
    notice.booking.status = 'booked';
    expect(cancellationNotice(JSON.stringify(notice))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['booking.status'] }] });
  });

  it('refuses a body that is not JSON', () => {
    expect(cancellationNotice('{"event":')).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['$'] }] });
  });
});
