import { Operator } from '@medplum/core';
import type { Identifier, Patient } from '@medplum/fhirtypes';
import { childLogger } from '../../engine/logger';
import { WECHAT_UNIONID_SYSTEM, wechatOpenidSystem } from '../profiles/lingshu-canonical';
import type { Repository } from '../store/repository';
import type { WechatAccount } from './principal';

/**
 * Patients who sign in through the mini program: the hospital's login service (wx.login → code2Session) gives a
 * token with the WeChat openid, the appid and, when the apps are linked on the 开放平台, the unionid, but no Patient.
 * `$bind-wechat` writes these as identifiers of the patient's record; every request of such a token then finds the
 * record again by them (unionid first, as it stays the same across the hospital's apps).
 */
const log = childLogger({ component: 'wechat-account' });

/** openid and unionid are 28 characters of base64url today; a little room either way. */
const WECHAT_ID = /^[A-Za-z0-9_-]{6,64}$/;
/** The appid becomes part of an identifier system URL: letters, digits, _ and - only. */
const APPID = /^[A-Za-z0-9_-]{2,64}$/;

export class WechatAccountError extends Error {}

/** The WeChat account named by token claims (or a demo token request); undefined when none is named. */
export function wechatAccountOf(fields: { openid?: unknown; appid?: unknown; unionid?: unknown }): WechatAccount | undefined {
  const { openid, appid, unionid } = fields;
  if (openid === undefined && unionid === undefined) return undefined;
  if (typeof openid !== 'string' || !WECHAT_ID.test(openid)) throw new WechatAccountError('openid must be a WeChat openid (6–64 letters, digits, _ or -)');
  if (typeof appid !== 'string' || !APPID.test(appid)) throw new WechatAccountError('appid must name the app that issued the openid (letters, digits, _ or -)');
  if (unionid !== undefined && (typeof unionid !== 'string' || !WECHAT_ID.test(unionid))) throw new WechatAccountError('unionid must be a WeChat unionid (6–64 letters, digits, _ or -)');
  return { appid, openid, ...(unionid ? { unionid } : {}) };
}

/** The identifiers a bound Patient carries for this account, the unionid (looked up first) before the openid. */
export function wechatIdentifiers(account: WechatAccount): Identifier[] {
  return [
    ...(account.unionid ? [{ system: WECHAT_UNIONID_SYSTEM, value: account.unionid }] : []),
    { system: wechatOpenidSystem(account.appid), value: account.openid },
  ];
}

export function carries(patient: Patient, identifier: Identifier): boolean {
  return (patient.identifier ?? []).some((i) => i.system === identifier.system && i.value === identifier.value);
}

/** The Patients carrying any of the account's identifiers (an exact token search: the values are indexed as digests). */
export async function patientsOfWechat(repo: Repository, account: WechatAccount): Promise<Patient[]> {
  const value = wechatIdentifiers(account).map((i) => `${i.system}|${i.value}`).join(',');
  const found = await repo.search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value }], count: 10 });
  return found.resources as Patient[];
}

/**
 * The id of the Patient the account is bound to, or undefined while it is bound to none. Binding refuses a second
 * Patient for the same identifier, so two can only come from records written around it (a merge, an import); then
 * no record is chosen — guessing could show one person another's — and the log says so.
 */
export async function boundPatientOf(repo: Repository, account: WechatAccount): Promise<string | undefined> {
  const patients = await patientsOfWechat(repo, account);
  for (const identifier of wechatIdentifiers(account)) {
    const bound = patients.filter((p) => carries(p, identifier));
    if (bound.length === 1) return bound[0].id;
    if (bound.length > 1) {
      log.warn('a WeChat account is bound to several patients; it sees none until the records are merged', { system: identifier.system, patients: bound.map((p) => p.id) });
      return undefined;
    }
  }
  return undefined;
}
