/**
 * OIDs of the 互联互通 HL7 v3 messages (WS/T 483 and the platform samples in ../shared/domain/formats.md §3). The
 * national code systems (gender, ethnicity…) are in fhir-resources/profiles `CODE_SYSTEM_OIDS`; these are the
 * identifier namespaces and message-level roots the platform defines.
 */
export const V3_OID = {
  messageId: '2.16.156.10011.2.5.1.1',
  interactionId: '2.16.156.10011.2.5.1.2',
  device: '2.16.156.10011.2.5.1.3',
  /** 患者ID: the patient id of a domain (the HIS 病人ID, or the platform's EMPI id). */
  patientId: '2.16.156.10011.2.5.1.4',
  /** 就诊次数 */
  visitCount: '2.16.156.10011.2.5.1.8',
  /** 就诊流水号: the visit's own key, unique per encounter. */
  visitSerial: '2.16.156.10011.2.5.1.9',
  /** 排班/号源资源 ID */
  scheduleResource: '2.16.156.10011.2.5.1.20',
  /** 资源级别代码 (0 普通, 1 专家, 2 特需, 9 急诊) */
  resourceLevel: '2.16.156.10011.2.5.1.21',
  /** 排班资源类型代码 (channel the numbers are released to: 窗口, 自助机, 网上…) */
  frameType: '2.16.156.10011.2.5.1.22',
  /** 预约 ID */
  appointmentId: '2.16.156.10011.2.5.1.29',
  /** 居民身份证号 (same as RESIDENT_ID_SYSTEM in profiles) */
  residentId: '2.16.156.10011.1.3',
  /** 医务人员工号 */
  staffId: '2.16.156.10011.1.4',
  /** 组织机构代码 */
  organization: '2.16.156.10011.1.5',
  /** 门（急）诊号 */
  outpatientNumber: '2.16.156.10011.1.11',
  /** 电子申请单编号 */
  requisition: '2.16.156.10011.1.24',
  /** 科室编码 */
  department: '2.16.156.10011.1.26',
  /** 医嘱 ID */
  orderId: '2.16.156.10011.1.28',
  /** 处方编号 (the id of a prescription's placerGroup; WS/T 500 西药处方 uses the same root) */
  prescriptionNo: '2.16.156.10011.1.20',
  /** 药物使用频次代码表 */
  frequency: '2.16.156.10011.2.3.1.267',
  /** 用药途径代码表 */
  route: '2.16.156.10011.2.3.1.158',
  /**
   * HIS-local roots for what the 互联互通 order model has no slot for (mappings/hl7v3/README.md, "收费"): the 收费明细
   * ID of one billed line, the 收据号 of a 收费 / 退费, and the HIS's local codes (收费状态). The 收费项目 dictionary
   * is .98. A site whose HIS uses other roots maps them in its interface; these are what the simulated HIS sends.
   */
  chargeLine: '2.16.156.10011.2.5.1.97',
  receiptNo: '2.16.156.10011.2.5.1.96',
  chargeItemCode: '2.16.156.10011.2.5.1.98',
  hisLocalCode: '2.16.156.10011.2.5.1.99',
  /** 患者类型代码 (1 门诊, 2 急诊, 3 住院, 9 其他) */
  encounterType: '2.16.156.10011.2.3.1.271',
  /** 医疗卫生机构业务科室分类与代码 */
  departmentClass: '2.16.156.10011.2.3.2.62',
  /** 家庭关系代码 GB/T 4761 */
  familyRelationship: '2.16.156.10011.2.3.3.8',
  /** 疾病分类与代码 (ICD-10, GB/T 14396) */
  icd10: '2.16.156.10011.2.3.3.11',
  /** 职业代码 GB/T 6565: some HIS exports put GB/T 2261.4 codes under it (formats.md sample H0701) */
  occupationGb6565: '2.16.156.10011.2.3.3.7',
  /** SNOMED CT, for the order category both sides understand */
  snomed: '2.16.840.1.113883.6.96',
} as const;

export const oidSystem = (oid: string): string => `urn:oid:${oid}`;

/** The OID inside a `urn:oid:` system, or undefined for any other system. */
export function oidOf(system: string | undefined): string | undefined {
  return system?.startsWith('urn:oid:') ? system.slice('urn:oid:'.length) : undefined;
}
