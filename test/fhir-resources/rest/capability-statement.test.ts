import request from 'supertest';
import type { Bundle, CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import { startSecureFhir } from '../auth/secure-fhir-fixture';
import { startFhirServer, type FhirServerFixture } from './fhir-server-fixture';

/*
 * GET /fhir/metadata lists what really works: every search parameter it advertises, with every modifier and prefix
 * its documentation names, every _include and _revinclude, is executed under `Prefer: handling=strict` (which turns
 * anything unsupported into a 400) without a 400 or a warning; what the search module cannot execute is not listed.
 */
const TYPES = ['Patient', 'Observation', 'ServiceRequest', 'ChargeItem', 'Invoice'];

const SAMPLE: Record<string, string> = {
  string: '王', token: 'http://loinc.org|718-7', reference: 'Patient/P1', date: '2026-11-25T10:30',
  number: '1', quantity: '5.4|http://unitsofmeasure.org|mg', uri: 'http://example.org/fhir/x',
};

/** `?name=value` for each modifier (`:text`) and prefix the documentation names, and the plain parameter. */
function usesOf(p: CapabilityStatementRestResourceSearchParam): string[] {
  const doc = p.documentation ?? '';
  const modifiers = /Modifiers: ([^.]*)\./.exec(doc)?.[1].split(', ') ?? [];
  const prefixes = /Prefixes: ([^.]*)\./.exec(doc)?.[1].split(', ') ?? [];
  const sample = SAMPLE[p.type!];
  const uses = [`${p.name}=${encodeURIComponent(sample)}`];
  const valueOf = (m: string): string => {
    if (m === ':missing') return 'true';
    if (m === ':text') return '血';
    return m === ':in' || m === ':not-in' ? 'http://hl7.org/fhir/ValueSet/administrative-gender' : encodeURIComponent(sample);
  };
  for (const m of modifiers) uses.push(`${p.name}${m}=${valueOf(m)}`);
  for (const prefix of prefixes) uses.push(`${p.name}=${prefix}${encodeURIComponent(sample)}`);
  if (/Chaining/.test(doc)) uses.push(`${p.name}._id=P1`);
  return uses;
}

describe('the CapabilityStatement', () => {
  let fx: FhirServerFixture;
  let cs: CapabilityStatement;
  const entry = (type: string): CapabilityStatementRestResource => cs.rest![0].resource!.find((r) => r.type === type)!;
  const strictGet = (path: string) => request(fx.app).get(`/fhir/${path}`).set('Prefer', 'handling=strict');

  beforeAll(async () => {
    fx = await startFhirServer('sqlite');
    await fx.repository.update({ resourceType: 'Patient', id: 'P1', name: [{ family: '王' }] });
    await fx.repository.update({ resourceType: 'Observation', id: 'O1', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }], text: '血红蛋白' }, subject: { reference: 'Patient/P1' } });
    cs = (await request(fx.app).get('/fhir/metadata')).body;
  });
  afterAll(async () => { await fx?.close(); });

  it.each(TYPES)('every search parameter advertised for %s, with each advertised modifier and prefix, runs without a 400 or a warning', async (type) => {
    const failures: string[] = [];
    for (const p of entry(type).searchParam!) {
      for (const use of usesOf(p)) {
        const res = await strictGet(`${type}?${use}`);
        const warned = (res.body as Bundle).entry?.some((e) => e.search?.mode === 'outcome');
        if (res.status !== 200 || warned) failures.push(`${type}?${use} → ${res.status} ${JSON.stringify(res.body.issue ?? '')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it.each(TYPES)('every _include and _revinclude advertised for %s runs without a 400 or a warning', async (type) => {
    const failures: string[] = [];
    const uses = [...entry(type).searchInclude!.map((i) => `_include=${i}`), ...entry(type).searchRevInclude!.map((i) => `_revinclude=${i}`)];
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      const res = await strictGet(`${type}?${use}`);
      if (res.status !== 200 || (res.body as Bundle).entry?.some((e) => e.search?.mode === 'outcome')) failures.push(`${use} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('includes follow the reference parameters of the type and revincludes those that point at it', async () => {
    expect(entry('Observation').searchInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Observation:encounter']));
    expect(entry('Patient').searchRevInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Invoice:subject', 'ChargeItem:subject']));
    expect(entry('Patient').searchRevInclude).not.toContain('Observation:encounter');
  });

  it('lists no parameter the search module cannot execute, and such a parameter is refused', async () => {
    const names = entry('Observation').searchParam!.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['code', 'date', 'value-quantity', 'subject', '_id', '_lastUpdated']));
    for (const composite of ['code-value-quantity', 'combo-code-value-concept', '_compartment']) expect(names).not.toContain(composite);
    expect(entry('Observation').searchParam!.every((p) => ['string', 'token', 'reference', 'date', 'number', 'quantity', 'uri'].includes(p.type!))).toBe(true);
    expect((await strictGet('Observation?code-value-quantity=718-7$gt5')).status).toBe(400);
    expect((await strictGet('Observation?code:below=718')).status).toBe(400);
  });

  it('names the Patient compartment and the interactions the routes serve', async () => {
    const rest = cs.rest![0];
    expect(rest.compartment).toEqual(['http://hl7.org/fhir/CompartmentDefinition/patient']);
    expect(rest.interaction!.map((i) => i.code).sort()).toEqual(['batch', 'history-system', 'transaction']);
    expect(entry('Patient').interaction!.map((i) => i.code).sort()).toEqual(
      ['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread']);
    expect(entry('Patient').conditionalRead).toBe('not-match');
    expect(entry('Patient').operation!.map((o) => o.name)).toContain('validate');
  });

  it('with the security layer, lists the audit trail as read and search only', async () => {
    const secure = await startSecureFhir('sqlite');
    try {
      const audit = ((await request(secure.app).get('/fhir/metadata')).body as CapabilityStatement).rest![0].resource!.find((r) => r.type === 'AuditEvent')!;
      expect(audit.interaction!.map((i) => i.code).sort()).toEqual(['read', 'search-type']);
      expect(audit.readHistory).toBe(false);
    } finally {
      await secure.close();
    }
  });
});
