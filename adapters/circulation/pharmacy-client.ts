import { HttpClientError, HttpPeer } from '../http/http-peer';
import { pharmacySignedHeaders } from './pharmacy-signature';

export interface PharmacyClientOptions {
  /** The pharmacy API's base, e.g. https://…/api (POST <base>/prescriptions). */
  url: string;
  appId: string;
  key: string;
  timeoutMs: number;
}

/** The pharmacy said no to this request (4xx with its code): recorded on the Task, not retried. */
export class PharmacyRefusal extends Error {
  constructor(readonly status: number, readonly code: string, readonly reason: string) {
    super(`HTTP ${status} ${code}: ${reason}`);
    this.name = 'PharmacyRefusal';
  }
}

/** An order as the pharmacy reports it back (the GET answer carries its history and, once 核销, the redemption). */
export interface PharmacyOrderView {
  orderId?: string;
  rxNo?: string;
  status?: string;
  history?: { status?: string; at?: string; note?: string }[];
  redemption?: { redeemedAt?: string; pharmacy?: string; drugs?: { code?: string; name?: string; quantity?: number; unit?: string; traceCode?: string; lot?: string }[] };
}

/**
 * A third-party pharmacy's prescription API: signed JSON requests (pharmacy-signature.ts). A refused signature (401)
 * is a configuration fault, so it is thrown as a plain error and retried until an operator fixes the key.
 */
export class PharmacyClient {
  private readonly peer: HttpPeer;
  private readonly reader: HttpPeer;

  constructor(private readonly o: PharmacyClientOptions) {
    this.peer = new HttpPeer({ url: o.url, method: 'POST', timeoutMs: o.timeoutMs });
    this.reader = new HttpPeer({ url: o.url, method: 'GET', timeoutMs: o.timeoutMs });
  }

  /** POST /prescriptions; the same rxNo with the same content answers the order already there. */
  submit(order: object): Promise<PharmacyOrderView> {
    return this.post('/prescriptions', order);
  }

  /** POST /prescriptions/<rxNo>/cancel; refused (409) once the drugs are dispensed. */
  cancel(rxNo: string, reason: string): Promise<PharmacyOrderView> {
    return this.post(`/prescriptions/${encodeURIComponent(rxNo)}/cancel`, { reason });
  }

  /** GET /prescriptions/<rxNo>: where the order stands (signed over an empty body); 404 when the pharmacy has none. */
  status(rxNo: string): Promise<PharmacyOrderView> {
    return this.call(this.reader, `/prescriptions/${encodeURIComponent(rxNo)}`);
  }

  async close(): Promise<void> {
    await Promise.all([this.peer.close(), this.reader.close()]);
  }

  private post(path: string, payload: object): Promise<PharmacyOrderView> {
    return this.call(this.peer, path, JSON.stringify(payload));
  }

  private async call(peer: HttpPeer, path: string, body?: string): Promise<PharmacyOrderView> {
    try {
      const headers = { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...pharmacySignedHeaders(this.o.key, this.o.appId, body ?? '') };
      const reply = await peer.exchange(body, headers, (r) => JSON.parse(r.body), `${this.o.url.replace(/\/$/, '')}${path}`);
      return ((JSON.parse(reply.body) as { data?: PharmacyOrderView }).data ?? {});
    } catch (err) {
      if (!(err instanceof HttpClientError) || err.reply.status === 401) throw err;
      let answer: { code?: string; message?: string } = {};
      try {
        answer = JSON.parse(err.reply.body) as typeof answer;
      } catch {
        // a 4xx without a JSON body: the status says enough
      }
      throw new PharmacyRefusal(err.reply.status, answer.code ?? String(err.reply.status), answer.message ?? err.reply.body.slice(0, 200));
    }
  }
}
