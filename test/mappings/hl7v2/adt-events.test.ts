import type { Encounter } from '@medplum/fhirtypes';
import { adtToBundle, hl7v2ToBundle, parseHl7 } from '../../../mappings/hl7v2';
import { asBundle, fixture, resourcesOf, writeProblems } from './hl7v2-fixtures';

const a01 = fixture('adt-a01-utf8.hl7');

function asEvent(event: string, text = a01): string {
  return text.replace('ADT^A01^ADT_A01', `ADT^${event}^ADT_A01`).replace('EVN|A01', `EVN|${event}`);
}

describe('ADT events', () => {
  it.each([
    ['A08', 'in-progress'],
    ['A11', 'cancelled'],
  ])('writes the Encounter of %s with status %s', (event, status) => {
    const bundle = asBundle(adtToBundle(parseHl7(asEvent(event))));
    expect(resourcesOf(bundle, 'Encounter').map((e: Encounter) => e.status)).toEqual([status]);
    expect(writeProblems(bundle)).toEqual([]);
  });

  it('finishes the Encounter when an A08 carries the discharge date (PV1-45)', () => {
    const discharged = asEvent('A08').replace('|20251125142000', '|20251125142000|20251201100000');
    const [encounter] = resourcesOf(asBundle(adtToBundle(parseHl7(discharged))), 'Encounter');
    expect(encounter).toMatchObject({ status: 'finished', period: { start: '2025-11-25T14:20:00+08:00', end: '2025-12-01T10:00:00+08:00' } });
  });

  it.each(['A28', 'A31'])('writes only the Patient for %s (person information, no visit)', (event) => {
    const bundle = asBundle(adtToBundle(parseHl7(asEvent(event))));
    expect(bundle.entry?.map((e) => `${e.request?.method} ${e.resource?.resourceType}`)).toEqual(['PUT Patient']);
  });

  it('maps the same message twice to the same conditional transaction', () => {
    const first = hl7v2ToBundle(parseHl7(a01));
    const second = hl7v2ToBundle(parseHl7(a01));
    expect(second).toEqual(first);
    expect(asBundle(first).entry?.map((e) => e.request?.url)).toEqual([
      'Patient?identifier=http://lingshu.health/hl7v2/authority/TYHIS|0003817265',
      'Encounter?identifier=http://lingshu.health/hl7v2/authority/HIS|Z250000318',
    ]);
  });

  it('keeps the assigning authority: the channel map names the system, unmapped ones get their own namespace', () => {
    const bundle = asBundle(adtToBundle(parseHl7(a01), { authoritySystems: { TYHIS: 'urn:oid:1.2.156.112605.1' } }));
    const [patient] = resourcesOf(bundle, 'Patient');
    expect(patient.identifier?.map((i) => i.system)).toEqual(['urn:oid:1.2.156.112605.1', 'urn:oid:2.16.156.10011.1.3']);
  });

  it('reads a 身份证 authority named in the context without the NNCHN type', () => {
    const text = a01.replace('110101199003074514^^^CHN^NNCHN', '110101199003074514^^^身份证');
    const [patient] = resourcesOf(asBundle(adtToBundle(parseHl7(text))), 'Patient');
    expect(patient.identifier?.[1]).toMatchObject({ system: 'urn:oid:2.16.156.10011.1.3', value: '110101199003074514' });
  });
});
