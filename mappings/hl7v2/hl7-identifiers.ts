import type { Identifier } from '@medplum/fhirtypes';
import { ID_DOCUMENT_TYPE_SYSTEM, LINGSHU_CANONICAL_BASE, RESIDENT_ID_SYSTEM, residentIdProblem } from '../../fhir-resources/profiles';
import type { Hl7Field } from './hl7-message';
import type { ResolvedContext } from './mapping-context';
import { MappingProblem } from './mapping-problem';

const V2_IDENTIFIER_TYPE = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/**
 * The `Identifier.system` of an assigning authority: the channel's map first (by namespace id, then universal id),
 * an ISO universal id as `urn:oid:`, otherwise a Lingshu namespace named after the authority. Identifiers keep the
 * authority that issued them, so a HIS 病案号 and a LIS 条码号 with the same digits never collide.
 */
export function authoritySystem(namespaceId: string, universalId: string, universalIdType: string, ctx: ResolvedContext): string {
  const mapped = ctx.authoritySystems[namespaceId] ?? ctx.authoritySystems[universalId];
  if (mapped) return mapped;
  if (universalId && (universalIdType === 'ISO' || /^[0-2](\.\d+)+$/.test(universalId))) return `urn:oid:${universalId}`;
  return `${LINGSHU_CANONICAL_BASE}/hl7v2/authority/${encodeURIComponent(namespaceId || universalId || ctx.defaultAuthority)}`;
}

/**
 * CX (PID-3, MRG-1, PV1-19) → Identifier. 公民身份号码 — identifier type NNCHN (national number, China) or an
 * authority the channel lists as the 身份证 issuer — go to the national namespace with the 居民身份证 document type,
 * after their check digit: a wrong number in the patient index is worse than a refused message.
 */
export function cxIdentifier(cx: Hl7Field, where: string, ctx: ResolvedContext, use?: Identifier['use']): Identifier | undefined {
  const value = cx.get(1).trim();
  if (!value) return undefined;
  const typeCode = cx.get(5);
  const namespaceId = cx.get(4, 1);
  if (typeCode === 'NNCHN' || ctx.residentIdAuthorities.includes(namespaceId)) {
    const problem = residentIdProblem(value);
    if (problem) throw new MappingProblem('value', `${where}.1`, `${where} is a 居民身份证 number that is not valid: ${problem}`);
    return {
      use: 'official',
      type: { coding: [{ system: ID_DOCUMENT_TYPE_SYSTEM, code: '01', display: '居民身份证' }] },
      system: RESIDENT_ID_SYSTEM,
      value: value.toUpperCase(),
    };
  }
  return {
    ...(use ? { use } : {}),
    ...(typeCode ? { type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: typeCode }] } } : {}),
    system: authoritySystem(namespaceId, cx.get(4, 2), cx.get(4, 3), ctx),
    value,
  };
}

/** EI (order numbers: ORC-2/3, OBR-2/3, SCH-1/2) → Identifier; the namespace is EI.2 (or EI.3 as universal id). */
export function eiIdentifier(ei: Hl7Field, ctx: ResolvedContext, type?: 'PLAC' | 'FILL'): Identifier | undefined {
  const value = ei.get(1).trim();
  if (!value) return undefined;
  return {
    ...(type ? { type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: type }] } } : {}),
    system: authoritySystem(ei.get(2), ei.get(3), ei.get(4), ctx),
    value,
  };
}

/** A plain ID (PV1-19 sent as ST by older senders, practitioner codes) in the default authority's namespace. */
export function localIdentifier(value: string, namespaceId: string, ctx: ResolvedContext): Identifier | undefined {
  const v = value.trim();
  return v ? { system: authoritySystem(namespaceId, '', '', ctx), value: v } : undefined;
}
