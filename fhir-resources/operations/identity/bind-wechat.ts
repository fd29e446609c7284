import { Operator } from '@medplum/core';
import type { HumanName, Patient } from '@medplum/fhirtypes';
import { carries, patientsOfWechat, wechatIdentifiers } from '../../auth/wechat-account';
import { RESIDENT_ID_SYSTEM } from '../../profiles/lingshu-canonical';
import { residentIdProblem } from '../../profiles/resident-id';
import type { Repository } from '../../store/repository';
import { operation, optional, ref, string } from '../operation';
import { badInput, businessRule, notFoundHere, notYours, stateConflict } from '../workflow-outcomes';

const NAME_PARAM = "Parameters.parameter.where(name='name')";
const ID_PARAM = "Parameters.parameter.where(name='idNumber')";
const PHONE_PARAM = "Parameters.parameter.where(name='phone')";

/** Names compared as written on an ID card: without spaces or the middle dot of transliterated names (买买提·艾力). */
function comparableName(name: string): string {
  return name.normalize('NFKC').replace(/[\s·•・.]/g, '').toLowerCase();
}

function namesOf(patient: Patient): string[] {
  return (patient.name ?? []).flatMap((n: HumanName) => [n.text, `${n.family ?? ''}${(n.given ?? []).join('')}`])
    .filter((n): n is string => Boolean(n)).map(comparableName);
}

/** A mainland mobile number as its 11 digits (+86, spaces and dashes dropped); other numbers as their digits. */
function comparablePhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length === 13 && digits.startsWith('86') ? digits.slice(2) : digits;
}

/** The one Patient whose 居民身份证 is this number; a lower-case x on file matches too. */
async function patientByResidentId(elevated: Repository, idNumber: string): Promise<Patient> {
  const values = [...new Set([idNumber, idNumber.toLowerCase()])].map((v) => `${RESIDENT_ID_SYSTEM}|${v}`).join(',');
  const found = (await elevated.search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: values }], count: 2 })).resources as Patient[];
  if (found.length === 0) throw notFoundHere('未找到就诊档案，请核对身份证号；首次就诊请先到医院窗口或自助机建档', ID_PARAM);
  if (found.length > 1) throw stateConflict('该身份证号对应多份就诊档案，请到医院窗口办理绑定', ID_PARAM);
  return found[0];
}

/**
 * `POST /fhir/Patient/$bind-wechat` with `name`, `idNumber` (居民身份证号) and optionally `phone`: binds the WeChat
 * account the caller signed in with (their token's openid, appid and unionid) to their record at the hospital, found
 * by the ID number and confirmed by the name (and by the phone when one is given and the record has one). The
 * account's identifiers are added to the Patient elevated — a patient may not otherwise write a record that is not
 * yet theirs — and from the next request the same token reads that Patient's compartment (FhirSecurity.resolve).
 *
 * Refusals say nothing about the record beyond that the details do not match: unknown ID number 404, name or phone
 * not matching 422, an account already bound to another record (or a record already bound to another account of
 * the same app) 409, a token that is not a mini-program sign-in or already names another patient 403. Each attempt
 * is one operation AuditEvent with its outcome (FhirSecurity.invoke); the texts carry no name, ID number or phone.
 */
export const bindWechatOperation = operation({
  name: 'bind-wechat',
  level: 'type',
  resourceType: 'Patient',
  description: '小程序账号绑定就诊档案：按身份证号找到档案、核对姓名后，把登录的微信 openid / unionid 记入 Patient.identifier',
  parameters: {
    name: string({ documentation: '就诊人姓名，须与档案一致' }),
    idNumber: string({ documentation: '居民身份证号（18 位，末位校验码）' }),
    phone: optional(string({ documentation: '手机号；档案登记了手机号时须一致' })),
  },
  output: { patient: ref('Patient') },
  async run(_repo, p, { caller, elevated }) {
    const account = caller.wechat;
    if (caller.role !== 'patient' || !account) throw notYours('只有通过微信小程序登录的账号可以绑定就诊档案');
    const idNumber = p.idNumber.trim().toUpperCase();
    if (residentIdProblem(idNumber)) throw badInput('身份证号不正确，请核对后重新输入（18 位，末位为校验码）', ID_PARAM);
    const name = comparableName(p.name);
    if (!name) throw badInput('请填写就诊人姓名', NAME_PARAM);

    const patient = await patientByResidentId(elevated, idNumber);
    if (!namesOf(patient).includes(name)) throw businessRule('姓名与身份证号登记的档案不一致，请核对后重新输入', NAME_PARAM);
    const phonesOnFile = (patient.telecom ?? []).filter((t) => t.system === 'phone' && t.value).map((t) => comparablePhone(t.value as string));
    if (p.phone !== undefined && phonesOnFile.length && !phonesOnFile.includes(comparablePhone(p.phone))) {
      throw businessRule('手机号与档案登记的不一致，请核对后重新输入，或到医院窗口更新手机号', PHONE_PARAM);
    }

    const identifiers = wechatIdentifiers(account);
    if ((await patientsOfWechat(elevated, account)).some((other) => other.id !== patient.id)) {
      throw stateConflict('该微信账号已绑定其他就诊档案，如需更换请到医院窗口办理');
    }
    if (caller.patient && caller.patient !== `Patient/${patient.id}`) throw notYours('当前登录的账号属于另一位就诊人，不能绑定此档案');
    // One account per app and one unionid per record: a second person's WeChat on the same record goes through the
    // window (or a family grant, Consent), not through knowing the name and ID number.
    if (identifiers.some((id) => !carries(patient, id) && (patient.identifier ?? []).some((on) => on.system === id.system))) {
      throw stateConflict('该就诊档案已绑定其他微信账号，如需更换请到医院窗口办理');
    }

    const missing = identifiers.filter((id) => !carries(patient, id));
    if (missing.length) {
      await elevated.update<Patient>({ ...patient, identifier: [...(patient.identifier ?? []), ...missing.map((id) => ({ use: 'secondary' as const, ...id }))] }, { ifMatch: patient.meta?.versionId });
    }
    return { patient: { reference: `Patient/${patient.id}` } };
  },
});
