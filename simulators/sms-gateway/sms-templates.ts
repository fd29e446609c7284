/**
 * The templates the simulated gateway has "approved". Chinese carriers only deliver pre-approved templates under an
 * approved 签名, so a request naming any other template is refused, as Aliyun and Tencent Cloud refuse it.
 */
export const DEFAULT_SMS_TEMPLATES: Record<string, string> = {
  SMS_PICKUP: '您的取药码为${code}，请凭此码到${pharmacy}取药。',
  SMS_BOOKING: '您预约的${item}已安排在${time}，地点${place}，请提前15分钟到达。',
  SMS_WAITLIST: '您候补的${doctor}${date}号源已匹配成功，请在${deadline}前完成支付，逾期将自动取消。',
  SMS_REFERRAL: '您已被转诊至${hospital}${department}，转诊单号${referralNo}，请于${date}前就诊。',
  SMS_REFUND: '您的退费申请${refundNo}已${result}，金额${amount}元。',
};

const PLACEHOLDER = /\$\{(\w+)\}/g;

/** The names the template needs and the params lack. */
export function missingParams(template: string, params: Record<string, unknown>): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((name) => params[name] === undefined || params[name] === '');
}

/** The text the handset would show: signature, then the template filled in. */
export function renderSms(signName: string | undefined, template: string, params: Record<string, unknown>): string {
  return `${signName ?? ''}${template.replace(PLACEHOLDER, (_m, name: string) => String(params[name]))}`;
}
