import type { Request, Router } from 'express';
import * as soap from 'soap';
import type { ServerType } from 'soap/lib/server';
import { signatureProblem } from './pharmacy-signature';
import { PHARMACY_SOAP_OPERATIONS, pharmacyWsdl, type PharmacySoapOperation } from './pharmacy-wsdl';

export const PHARMACY_SOAP_PATH = '/soap/PrescriptionService.asmx';

/** What one pharmacy operation came to, whichever protocol asked: code '0' with data, or a refusal. */
export interface PharmacyOutcome {
  /** The HTTP status the web API answers with. */
  status: number;
  code: string;
  message?: string;
  data?: unknown;
}

/** The pharmacy's operations, protocol-free; `data` is the parsed JSON of the request. */
export type PharmacyOperations = Record<PharmacySoapOperation, (appId: string, data: Record<string, unknown>) => PharmacyOutcome>;

interface SoapArgs { appId?: string; timestamp?: string; sign?: string; data?: string }
interface SoapAnswer { code: string; message?: string; data?: string }

/**
 * Publishes the pharmacy's operations as the SOAP service its WSDL describes (pharmacy-wsdl.ts), on `router` (mounted
 * at /soap by the peer). The signature is the web API's, over the `data` string: a bad one is a SOAP fault (the
 * caller is not who it says), a refused request an answer with its code and message, as on the web API.
 */
export function listenPharmacySoap(router: Router, location: string, apps: Record<string, string>, operations: PharmacyOperations): Promise<void> {
  const handler = (operation: PharmacySoapOperation) => (args: SoapArgs, _cb: unknown, _headers: unknown, req?: Request): SoapAnswer => {
    const { appId = '', timestamp, sign, data = '' } = args ?? {};
    const note = (outcome: string) => { if (req?.res) req.res.locals.outcome = outcome; };
    const problem = signatureProblem(apps[appId], { appId, timestamp, sign }, Buffer.from(data, 'utf8'));
    if (problem) {
      note(`refused: ${problem}`);
      throw { Fault: { faultcode: 'soap:Client', faultstring: `SIGN_ERROR: ${problem}`, statusCode: 500 } };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== 'object') {
      note('refused: data is not a JSON object');
      return { code: 'PARAM_ERROR', message: 'data 不是 JSON 对象' };
    }
    const outcome = operations[operation](appId, parsed as Record<string, unknown>);
    if (outcome.code !== '0') {
      note(`refused: ${outcome.message ?? outcome.code}`);
      return { code: outcome.code, message: outcome.message };
    }
    return { code: '0', data: JSON.stringify(outcome.data) };
  };
  const service = Object.fromEntries(PHARMACY_SOAP_OPERATIONS.map((op) => [op, handler(op)]));
  return new Promise<void>((resolve, reject) => {
    soap.listen(router as unknown as ServerType, {
      path: PHARMACY_SOAP_PATH.replace(/^\/soap/, ''), xml: pharmacyWsdl(location), suppressStack: true,
      services: { PrescriptionService: { PrescriptionServiceSoap: service } },
      callback: (err: unknown) => (err ? reject(err) : resolve()),
    } as soap.IServerOptions);
  });
}
