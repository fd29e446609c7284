import { maskName } from '../log-masking';

/**
 * Masks for known fields of a message (the message browser, see message-masking.ts), in the forms the hospital's
 * UIs use: an ID number keeps its first and last four characters (`4501**********1234`), a phone its last four and
 * the digits before the subscriber number (`138****0000`), an address its district and road, a name its surname.
 */

export { maskName };

/** Every character but whitespace and separators: a given name, a pinyin name, a whole value that must go. */
export function maskAll(s: string): string {
  return Array.from(s).map((c) => (/[\s^&~|]/.test(c) ? c : '*')).join('');
}

export function maskIdNumber(value: string): string {
  const v = value.trim();
  if (v.length <= 8) return '*'.repeat(v.length);
  return v.slice(0, 4) + '*'.repeat(v.length - 8) + v.slice(-4);
}

/**
 * The last four digits and, before them, only what tells the number's kind: 138****0000, +86138****0000,
 * 0771-***3416. Separators and a `tel:` prefix stay where they were.
 */
export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '').length;
  if (digits === 0) return value;
  const keepHead = digits >= 8 ? digits - 8 : 0;
  const keepTail = digits >= 6 ? 4 : Math.min(2, digits - 1);
  let i = 0;
  return value.replace(/\d/g, (d) => {
    const n = i++;
    return n < keepHead || n >= digits - keepTail ? d : '*';
  });
}

/** The first characters (province, city, district or road) stay; the house number and room go. */
export function maskAddress(value: string): string {
  const chars = Array.from(value.trim());
  if (chars.length === 0) return value;
  const keep = Math.min(6, Math.floor(chars.length / 2));
  return chars.slice(0, keep).join('') + '****';
}

function normalise(key: string): string {
  return key.toLowerCase().replace(/[\s_.-]/g, '');
}

const PHONE_KEYS = new Set(['电话', '手机', '手机号', '手机号码', '联系电话', '联系方式', '固话']);
export function isPhoneKey(key: string): boolean {
  const k = normalise(key);
  return PHONE_KEYS.has(k) || /(phone|mobile|^tel$|tel$|telno|phoneno|mobileno|cellphone)/.test(k);
}

const ID_KEYS = new Set(['idcard', 'idno', 'idnumber', 'idcardno', 'certno', 'certnum', 'psncertno', 'identityno', 'identitycard',
  'identitynumber', 'sfzh', 'sfzhm', 'credentialno', 'documentno', '身份证', '身份证号', '身份证号码', '证件号', '证件号码', '证件号码']);
export function isIdNumberKey(key: string): boolean {
  const k = normalise(key);
  return ID_KEYS.has(k) || /(idcard|certno|idnumber)$/.test(k);
}

const ADDRESS_KEYS = new Set(['地址', '住址', '家庭住址', '现住址', '户籍地址', '联系地址', '通讯地址']);
export function isAddressKey(key: string): boolean {
  const k = normalise(key);
  return ADDRESS_KEYS.has(k) || /(address|addr)$/.test(k);
}

// Keys whose value is a person's name wherever they appear (log-masking's isNameKey covers the English and Chinese
// role forms; these are vendor spellings seen in 医保 / pharmacy interfaces: patn_name 患者, psn_name 参保人,
// prsc_dr_name 开方医师, phar_name / chk_phar_name 药师, brxm / hzxm 病人 / 患者姓名 in pinyin initials).
const EXTRA_NAME_KEYS = new Set(['patnname', 'psnname', 'patname', 'prscdrname', 'drname', 'pharname', 'chkpharname', 'brxm', 'hzxm', 'xm',
  'username', 'realname', 'payername', 'consignee', 'receivername', 'recipientname', 'signaturetext', 'signature']);
export function isVendorNameKey(key: string): boolean {
  return EXTRA_NAME_KEYS.has(normalise(key));
}

/**
 * Parents under which a bare `name` is a person's (patient.name, doctor.name): elsewhere `name` is an item's, an
 * organisation's or a code's name, which engineers need to read.
 */
export function isPersonContext(key: string | undefined): boolean {
  return key !== undefined && /patient|person|doctor|practitioner|physician|nurse|contact|guardian|relative|kin|insured|payer|applicant|holder|orderer|author|performer|member|患者|病人|医生|联系人|家属|监护人/i.test(key);
}
