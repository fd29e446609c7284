import type { Encounter, MedicationRequest, Patient } from '@medplum/fhirtypes';
import { beijingTime, CirculationMappingError, patientName, prescribedDrugs, prescriptionNumberOf } from './prescription-content';

/**
 * What the 处方流转平台 (医保电子处方中心, formats.md §5) needs for one prescription: the 上传预核验 (uploadChk, 7101)
 * data and the prescription file that 医保电子签名 (rxFixmedinsSign, 7102) signs and 处方上传 (rxFileUpld, 7103)
 * carries; adapters/circulation/prescription-platform-client.ts runs the three steps.
 */
export interface PlatformUpload {
  hospRxno: string;
  check: Record<string, unknown>;
  /** Base64 of the prescription file. A UTF-8 text rendering stands in for the PDF the 医保 centre would be sent. */
  rxFile: string;
}

export interface PlatformUploadInput {
  prescriptions: MedicationRequest[];
  patient: Patient | undefined;
  encounter?: Encounter;
  /** 处方有效天数 (the 医保 rule is at most 3 for outpatient prescriptions unless the doctor notes a reason). */
  validDays: number;
}

/** GB/T 2261.1 as the 医保 interfaces write it. */
const GENDER: Record<string, string> = { male: '1', female: '2', other: '9', unknown: '0' };

export function platformUpload(input: PlatformUploadInput): PlatformUpload {
  const { prescriptions, patient } = input;
  const hospRxno = prescriptionNumberOf(prescriptions[0]);
  const drugs = prescribedDrugs(prescriptions);
  const authored = prescriptions.map((r) => r.authoredOn).filter((t): t is string => Boolean(t)).sort()[0];
  if (!authored) throw new CirculationMappingError(`prescription ${hospRxno}: MedicationRequest.authoredOn (开方时间) is required by the platform`);
  const name = patientName(patient);
  const validEnd = new Date(Date.parse(authored) + input.validDays * 86_400_000).toISOString();
  const diagnoses = prescriptions.flatMap((r) => r.reasonCode ?? []).map((c) => ({ code: c.coding?.[0]?.code ?? '', name: c.text ?? c.coding?.[0]?.display ?? '' }))
    .filter((d, i, all) => d.code && all.findIndex((x) => x.code === d.code) === i);
  const check = {
    hosp_rxno: hospRxno,
    rx_type_code: '1', // 西药/中成药处方; 中药饮片 (2) are not circulated
    prsc_time: beijingTime(authored),
    valid_days: input.validDays,
    valid_end_time: beijingTime(validEnd),
    rept_flag: '0',
    rx_circ_flag: '1',
    rxdrugdetail: drugs.map((d) => ({
      med_list_codg: d.code, drug_genname: d.name, drug_spec: d.spec ?? '', drug_cnt: d.quantity, drug_dosunt: d.unit ?? '',
      medc_way_codg: d.routeCode ?? '', used_frqu_codg: d.frequencyCode ?? '', medc_days: d.days ?? '', medc_way_dscr: d.usage ?? '',
    })),
    mdtrtinfo: {
      mdtrt_id: input.encounter?.id ?? '', med_type: '11', psn_no: '', patn_name: name, gend: GENDER[patient?.gender ?? 'unknown'] ?? '0',
      brdy: patient?.birthDate ?? '',
    },
    diseinfo: diagnoses.map((d, i) => ({ diag_type: '1', maindiag_flag: i === 0 ? '1' : '0', diag_code: d.code, diag_name: d.name })),
  };
  const lines = [
    `处方 ${hospRxno}`,
    `患者：${name}`,
    `开方时间：${beijingTime(authored)}  有效期至：${beijingTime(validEnd)}`,
    ...drugs.map((d, i) => `${i + 1}. ${d.name}${d.spec ? ` ${d.spec}` : ''} × ${d.quantity}${d.unit ?? ''}${d.usage ? `  用法：${d.usage}` : ''}`),
  ];
  return { hospRxno, check, rxFile: Buffer.from(`${lines.join('\n')}\n`, 'utf8').toString('base64') };
}
