/**
 * Canonical URLs of Lingshu's own terminology and extensions. One base for all of them, the one
 * ../shared/domain/codes.md names (`http://lingshu.health/CodeSystem/...`): a code system URL is a name, never fetched,
 * and changing it later would orphan every stored coding, so it lives in exactly one place.
 */
export const LINGSHU_CANONICAL_BASE = 'http://lingshu.health';

/** The canonical URL of one of Lingshu's code systems, value sets, extensions and identifier namespaces. */
export const codeSystem = (name: string): string => `${LINGSHU_CANONICAL_BASE}/CodeSystem/${name}`;
export const valueSet = (name: string): string => `${LINGSHU_CANONICAL_BASE}/ValueSet/${name}`;
export const structureDefinition = (name: string): string => `${LINGSHU_CANONICAL_BASE}/StructureDefinition/${name}`;
/** Identifier.system of a namespace Lingshu or a hospital peer hands out numbers in (`…/sid/out-trade-no`). */
export const identifierSystem = (name: string): string => `${LINGSHU_CANONICAL_BASE}/sid/${name}`;

/** 身份证件类别代码 CV02.01.101 (WS 364). */
export const ID_DOCUMENT_TYPE_SYSTEM = codeSystem('id-document-type');
/** 人的性别代码 GB/T 2261.1. `Patient.gender` keeps the FHIR code; this system is for HL7 v3 / regulator mappings. */
export const GENDER_SYSTEM = codeSystem('gender');
/** 世界各国和地区名称代码 GB/T 2659 (= ISO 3166-1); FHIR keeps alpha-3. */
export const NATIONALITY_SYSTEM = codeSystem('nationality');
/** 民族类别代码 GB 3304. */
export const ETHNICITY_SYSTEM = codeSystem('ethnicity');
/** 从业状况（个人身份）代码 GB/T 2261.4. */
export const OCCUPATION_SYSTEM = codeSystem('occupation');
/** 婚姻状况代码 GB/T 2261.2. */
export const MARITAL_STATUS_SYSTEM = codeSystem('marital-status');
/** 行政区划代码 GB/T 2260, six digits at every level (province 450000, city 450100, county 450102). */
export const ADMINISTRATIVE_DIVISION_SYSTEM = codeSystem('administrative-division');

export const ID_DOCUMENT_TYPE_VALUE_SET = valueSet('id-document-type');
export const GENDER_VALUE_SET = valueSet('gender');
export const NATIONALITY_VALUE_SET = valueSet('nationality');
export const ETHNICITY_VALUE_SET = valueSet('ethnicity');
export const OCCUPATION_VALUE_SET = valueSet('occupation');
export const MARITAL_STATUS_VALUE_SET = valueSet('marital-status');
export const ADMINISTRATIVE_DIVISION_VALUE_SET = valueSet('administrative-division');

/**
 * Namespace of 公民身份号码 in `Identifier.system`: the OID the 互联互通 HL7 v3 messages use as the root of the
 * 身份证 id (shared/domain/formats.md §3), so a v3 `<id root="2.16.156.10011.1.3" extension="…"/>` maps one to one.
 */
export const RESIDENT_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';

/**
 * WeChat accounts bound to a Patient (`$bind-wechat`) as Patient identifiers. An openid means something only within
 * the app (小程序 / 公众号) that issued it, so its system names the appid; a unionid is one user across the
 * hospital's apps linked under one 开放平台 account.
 */
export const WECHAT_UNIONID_SYSTEM = `${LINGSHU_CANONICAL_BASE}/sid/wechat-unionid`;
export const WECHAT_OPENID_SYSTEM_PREFIX = `${LINGSHU_CANONICAL_BASE}/sid/wechat-openid/`;
export const wechatOpenidSystem = (appid: string): string => `${WECHAT_OPENID_SYSTEM_PREFIX}${appid}`;

/** Patient extensions (valueCodeableConcept with a coding in the named system). */
export const NATIONALITY_EXTENSION = structureDefinition('patient-nationality');
export const ETHNICITY_EXTENSION = structureDefinition('patient-ethnicity');
export const OCCUPATION_EXTENSION = structureDefinition('patient-occupation');
/** Address extension: valueCoding in ADMINISTRATIVE_DIVISION_SYSTEM, the most precise level known. */
export const ADDRESS_DIVISION_EXTENSION = structureDefinition('address-division');

/** The China Patient profile; a Patient that lists it in `meta.profile` must carry an ID document and a gender. */
export const CHINA_PATIENT_PROFILE = structureDefinition('china-patient');

/**
 * OIDs under which the HL7 v3 messages of 互联互通 (WS 363/364) name the same code systems. Only those seen in the
 * standard's message templates are listed; GB/T 2260 has none there (v3 addresses carry names, not codes).
 */
export const CODE_SYSTEM_OIDS: Readonly<Record<string, string>> = {
  [ID_DOCUMENT_TYPE_SYSTEM]: '2.16.156.10011.2.3.1.1',
  [GENDER_SYSTEM]: '2.16.156.10011.2.3.3.4',
  [NATIONALITY_SYSTEM]: '2.16.156.10011.2.3.3.1',
  [ETHNICITY_SYSTEM]: '2.16.156.10011.2.3.3.3',
  [OCCUPATION_SYSTEM]: '2.16.156.10011.2.3.3.13',
  [MARITAL_STATUS_SYSTEM]: '2.16.156.10011.2.3.3.5',
};
