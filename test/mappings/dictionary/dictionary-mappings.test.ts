import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, ChargeItemDefinition } from '@medplum/fhirtypes';
import { fenOf } from '../../../fhir-resources/billing/money';
import { dictionaryRowToBundle } from '../../../mappings/dictionary/dictionary-message';
import { readSpecification } from '../../../mappings/dictionary/drug';

const FIXTURES = path.join(__dirname, '../../fixtures/dictionary');
const text = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const json = (name: string) => JSON.parse(text(name));

describe('dictionary rows → FHIR', () => {
  it.each([
    ['his-charge-item-blood-routine', 'a HIS 收费项目 to its ActivityDefinition and ChargeItemDefinition, linked by canonical URL'],
    ['his-charge-item-special-stopped', 'a stopped 特殊项目 to retired resources flagged special'],
    ['his-drug-metformin', 'a HIS drug to Medication and MedicationKnowledge under its 收费项目 code, and its price per pack'],
    ['drug-database-amoxicillin', 'a drug database record to Medication and MedicationKnowledge with the package insert'],
    ['drug-database-withdrawn', 'a withdrawn drug database record to inactive resources'],
  ])('maps %s: %s', (name) => {
    expect(dictionaryRowToBundle(text(`${name}.json`))).toEqual(json(`${name}.bundle.json`));
  });

  it('prices the ChargeItemDefinition in 分 from the HIS price in 元', () => {
    const bundle = dictionaryRowToBundle(text('his-charge-item-special-stopped.json')) as Bundle;
    const cid = bundle.entry![1].resource as ChargeItemDefinition;
    expect(fenOf(cid.propertyGroup![0].priceComponent![0].amount)).toBe(5550);
  });

  it('names the JSON path of a price with three decimals', () => {
    const message = json('his-charge-item-blood-routine.json');
    message.row.price = '20.005';
    expect(dictionaryRowToBundle(JSON.stringify(message))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', expression: ['row.price'] }] });
  });

  it('refuses a change time without its offset, which would be read in the wrong time zone', () => {
    const message = json('drug-database-amoxicillin.json');
    message.row.changedAt = '2026-10-09 14:22:31';
    expect(dictionaryRowToBundle(JSON.stringify(message))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['row.changedAt'] }] });
  });

  it('refuses a message of an unknown feed', () => {
    expect(dictionaryRowToBundle(JSON.stringify({ feed: 'his-materials', row: {} }))).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['feed'] }] });
  });

  it('refuses a body that is not JSON', () => {
    expect(dictionaryRowToBundle('{"feed":')).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['$'] }] });
  });

  it('reads a 规格 of strength × count, and leaves any other as text only', () => {
    expect(readSpecification('0.3g*20粒')).toEqual({ strength: { value: 0.3, unit: 'g', system: 'http://unitsofmeasure.org', code: 'g' }, count: 20, countUnit: '粒' });
    expect(readSpecification('10ml:0.5g*10支')).toBeUndefined();
  });
});
