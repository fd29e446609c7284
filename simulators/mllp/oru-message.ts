/** ORU^R01 composition for the result-sending peers (LIS, PACS, reproductive-center LIS), HL7 v2.4 as most domestic LIS send. */

export interface SimPatient {
  /** HIS patient id (PID-3, type PI). */
  id: string;
  name: string;
  /** Pinyin, the second PID-5 repetition many HIS systems expect. */
  pinyin: string;
  sex: 'M' | 'F';
  birthDate: string;
}

export interface SimObservation {
  valueType: 'NM' | 'TX' | 'ST';
  code: string;
  name: string;
  value: string;
  unit?: string;
  range?: string;
  /** L / H / N (HL7 table 0078). */
  flag?: string;
}

export interface OruInput {
  sendingApplication: string;
  sendingFacility: string;
  receivingFacility: string;
  controlId: string;
  /** MSH-18 as the peer writes it; '' leaves it empty, as several domestic LIS do. */
  msh18: string;
  patient: SimPatient;
  department: string;
  doctor: string;
  order: { placer: string; filler: string; code: string; name: string; specimen?: string; section: string };
  observations: SimObservation[];
  now?: Date;
}

/** Fictitious patients (names, ids and phone numbers are made up). */
export const SIM_PATIENTS: SimPatient[] = [
  { id: '0003817265', name: '王小明', pinyin: 'WANG XIAO MING', sex: 'M', birthDate: '19900307' },
  { id: '0004172239', name: '李秀英', pinyin: 'LI XIU YING', sex: 'F', birthDate: '19851120' },
  { id: '0005521907', name: '陈雅婷', pinyin: 'CHEN YA TING', sex: 'F', birthDate: '19920418' },
];

export function hl7Timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function buildOru(i: OruInput): string {
  const ts = hl7Timestamp(i.now ?? new Date());
  const p = i.patient;
  const segments = [
    `MSH|^~\\&|${i.sendingApplication}|${i.sendingFacility}|LINGSHU|${i.receivingFacility}|${ts}||ORU^R01^ORU_R01|${i.controlId}|P|2.4|||AL|NE|CHN|${i.msh18}`,
    `PID|1||${p.id}^^^HIS^PI||${p.name}^${p.pinyin}||${p.birthDate}|${p.sex}`,
    `PV1|1|O|${i.department}||||${i.doctor}`,
    `ORC|RE|${i.order.placer}^HIS|${i.order.filler}^${i.sendingApplication}||CM||||${ts}|||${i.doctor}`,
    `OBR|1|${i.order.placer}^HIS|${i.order.filler}^${i.sendingApplication}|${i.order.code}^${i.order.name}^L|||${ts}|||||||${ts}|${i.order.specimen ?? ''}|${i.doctor}||||||${ts}||${i.order.section}|F`,
    ...i.observations.map((o, n) => `OBX|${n + 1}|${o.valueType}|${o.code}^${o.name}^L||${o.value}|${o.unit ?? ''}|${o.range ?? ''}|${o.flag ?? ''}|||F|||${ts}`),
  ];
  return segments.join('\r') + '\r';
}
