import type { Coding } from '@medplum/fhirtypes';

/**
 * What a channel tells the HL7 v2 mappings about its peer. Everything is optional: `{}` maps a message from a
 * sender that uses its own namespaces and China time.
 */
export interface Hl7v2Context {
  /**
   * Assigning authority → `Identifier.system`. The key is the authority as the sender writes it: CX.4 / EI.2
   * namespace id (`TYHIS`), or its universal id (an OID, written here without `urn:oid:`).
   */
  authoritySystems?: Readonly<Record<string, string>>;
  /** Authorities whose identifiers are 公民身份号码 even without the identifier type NNCHN in CX.5. */
  residentIdAuthorities?: readonly string[];
  /**
   * The authority of identifiers sent without one (PV1-19, EI without a namespace). Defaults to the sending
   * application (MSH-3): set it when a LIS forwards visit numbers that the HIS issued.
   */
  defaultAuthority?: string;
  /** The UTC offset of times sent without one. HL7 says such times are the sender's local time. */
  utcOffset?: string;
  /** Longest OBX-5 accepted, in characters. */
  maxObservationValueLength?: number;
  /** OBR-24 diagnostic service section → order category, over the defaults in orders.ts. */
  serviceSections?: Readonly<Record<string, OrderCategory>>;
  /**
   * Categories every DiagnosticReport of this sender also carries, after the OBR-24 section: a second LIS (生殖中心)
   * whose reports patients and doctors look up apart from the main laboratory's (`DiagnosticReport?category=…`).
   */
  reportCategories?: readonly Coding[];
}

/** The three kinds of 医技 order the HIS issues: 检验 (lab), 检查 (exam), 治疗 (treatment). */
export type OrderCategory = 'lab' | 'exam' | 'treatment';

export interface ResolvedContext {
  authoritySystems: Readonly<Record<string, string>>;
  residentIdAuthorities: readonly string[];
  defaultAuthority: string;
  utcOffset: string;
  maxObservationValueLength: number;
  serviceSections: Readonly<Record<string, OrderCategory>>;
  reportCategories: readonly Coding[];
}

/**
 * 20,000 characters is several times the longest 检查报告 text seen from the PACS; anything longer is an embedded
 * document or a runaway sender, and a DocumentReference channel is the place for documents.
 */
export const DEFAULT_MAX_OBSERVATION_VALUE_LENGTH = 20_000;

/** Names domestic HIS/EMPI systems give the 身份证 authority in CX.4. */
const RESIDENT_ID_AUTHORITIES = ['身份证', '居民身份证', 'SFZ', 'IDCARD', 'ID_CARD'];

export function resolveContext(ctx: Hl7v2Context, sendingApplication: string): ResolvedContext {
  return {
    authoritySystems: ctx.authoritySystems ?? {},
    residentIdAuthorities: ctx.residentIdAuthorities ?? RESIDENT_ID_AUTHORITIES,
    defaultAuthority: ctx.defaultAuthority || sendingApplication || 'UNKNOWN',
    // China has one time zone and no daylight saving.
    utcOffset: ctx.utcOffset ?? '+08:00',
    maxObservationValueLength: ctx.maxObservationValueLength ?? DEFAULT_MAX_OBSERVATION_VALUE_LENGTH,
    serviceSections: ctx.serviceSections ?? {},
    reportCategories: ctx.reportCategories ?? [],
  };
}
