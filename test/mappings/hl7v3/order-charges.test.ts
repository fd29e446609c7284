import type { BundleEntry, ChargeItem, MedicationRequest } from '@medplum/fhirtypes';
import { PRESCRIPTION_NO_SYSTEM } from '../../../fhir-resources/billing/billing-vocabulary';
import { fenOf } from '../../../fhir-resources/billing/money';
import { hl7v3ToBundle } from '../../../mappings/hl7v3';
import { asBundle, fixture, inbound } from './hl7v3-fixtures';

const PRESCRIPTION = 'poor-in200901uv-western-prescription.xml';
const EXAM = 'poor-in200901uv-exam-application-priced.xml';

const entries = (xml: string): BundleEntry[] => asBundle(hl7v3ToBundle(xml, inbound)).entry!;
const ofType = <T>(list: BundleEntry[], type: string): T[] => list.filter((e) => e.resource?.resourceType === type).map((e) => e.resource as T);
const problems = (xml: string) => {
  const out = hl7v3ToBundle(xml, inbound);
  return out.resourceType === 'OperationOutcome' ? out.issue.map((i) => ({ code: i.code, expression: i.expression })) : [];
};

describe('HIS orders with prices (POOR_IN200901UV, component1/charge)', () => {
  it('makes the drugs of one placerGroup one prescription: every MedicationRequest carries its 处方编号', () => {
    const drugs = ofType<MedicationRequest>(entries(fixture(PRESCRIPTION)), 'MedicationRequest');
    expect(drugs).toHaveLength(3);
    expect(new Set(drugs.map((d) => JSON.stringify(d.groupIdentifier)))).toEqual(new Set([JSON.stringify({ system: PRESCRIPTION_NO_SYSTEM, value: 'RX2026112600087' })]));
  });

  it('puts a drug’s own 注意事项 in its patientInstruction and the prescription’s on the drugs without one', () => {
    const [metformin, acarbose] = ofType<MedicationRequest>(entries(fixture(PRESCRIPTION)), 'MedicationRequest');
    expect(acarbose.dosageInstruction?.[0].patientInstruction).toBe('与第一口饭同时嚼服');
    expect(metformin.dosageInstruction?.[0].patientInstruction).toBe('饭后服用，定期复查空腹血糖及糖化血红蛋白');
  });

  it('points each ChargeItem at the entry of the order it bills, which comes before it', () => {
    const list = entries(fixture(PRESCRIPTION));
    list.forEach((entry, index) => {
      if (entry.resource?.resourceType !== 'ChargeItem') return;
      const service = (entry.resource as ChargeItem).service![0].reference;
      expect(list[index - 1].fullUrl).toBe(service);
      expect(list[index - 1].resource?.resourceType).toBe('MedicationRequest');
    });
  });

  it('keeps amounts in 分: the 阿卡波糖 line is 2 × 45.60 = 9120 分', () => {
    const acarbose = ofType<ChargeItem>(entries(fixture(PRESCRIPTION)), 'ChargeItem')[1];
    expect(acarbose.quantity?.value).toBe(2);
    expect(fenOf(acarbose.priceOverride)).toBe(9120);
    expect(fenOf(acarbose.extension?.[0].valueMoney)).toBe(4560);
  });

  it('takes the 收费状态 from the HIS: 已收费 is billed, 未收费 billable', () => {
    expect(ofType<ChargeItem>(entries(fixture(EXAM)), 'ChargeItem').map((c) => c.status)).toEqual(['billable', 'billed']);
  });

  it('aborts the unpaid charge of an order the HIS cancelled', () => {
    const cancelled = fixture(EXAM).replace(/<statusCode code="active"\/>\n            <location/g, '<statusCode code="cancelled"/>\n            <location');
    expect(ofType<ChargeItem>(entries(cancelled), 'ChargeItem').map((c) => c.status)).toEqual(['aborted', 'billed']);
  });

  it('keys a charge without a 收费明细 ID on the 医嘱 ID, so a resend updates the same ChargeItem', () => {
    const withoutId = fixture(EXAM).replace('<id><item root="2.16.156.10011.2.5.1.97" extension="SF2026112600411"/></id>', '');
    const charge = entries(withoutId).find((e) => e.resource?.resourceType === 'ChargeItem')!;
    expect(charge.request).toEqual({ method: 'PUT', url: 'ChargeItem?identifier=urn:oid:2.16.156.10011.1.28|YZ2026112601511' });
  });

  it('refuses a charge whose amount is not the unit price × the quantity', () => {
    const wrong = fixture(PRESCRIPTION).replace('<amount value="91.20" currency="CNY"/>', '<amount value="91.00" currency="CNY"/>');
    expect(problems(wrong)).toEqual([{
      code: 'invariant',
      expression: ['/POOR_IN200901UV/controlActProcess/subject/placerGroup/component2[2]/substanceAdministrationRequest/component1/charge/amount/@value'],
    }]);
  });

  it('refuses an amount that is not 元 with at most two decimals', () => {
    const wrong = fixture(EXAM).replace('<amount value="180.00" currency="CNY"/>', '<amount value="180.005" currency="CNY"/>');
    expect(problems(wrong)).toContainEqual({
      code: 'value', expression: ['/POOR_IN200901UV/controlActProcess/subject/observationRequest/component2[1]/observationRequest/component1/charge/amount/@value'],
    });
  });
});
