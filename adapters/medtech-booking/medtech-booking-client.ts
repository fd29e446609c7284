import { Agent, request } from 'undici';
import { z } from 'zod';
import {
  BookRequest, MedtechBookingPlatform, MedtechBookingRefusal, MedtechBookingUnavailable, PlatformBooking, PlatformItem, PlatformSlot,
  platformBookingSchema, platformItemSchema, platformSlotSchema,
} from './medtech-booking-api';

export const medtechBookingClientSchema = z.object({
  /** Base URL; the API lives under `<url>/api`. */
  url: z.string().url(),
  /** Bearer token the platform issued to the hospital. */
  token: z.string().min(1),
  /** Whole exchange; a patient waits for $book, so it is short. */
  timeoutMs: z.number().int().min(1).default(10_000),
});

export type MedtechBookingClientOptions = z.input<typeof medtechBookingClientSchema>;

const refusalBody = z.object({ code: z.string().min(1), message: z.string().default('') });

/**
 * The 医技预约 platform over HTTP (undici, one keep-alive pool, a deadline per exchange). A 4xx with the platform's
 * `{code, message}` is a MedtechBookingRefusal; everything else that is not a well-formed `{code: "0", data}` —
 * connection refused, timeout, 5xx, a cut-off body, our own token refused — is MedtechBookingUnavailable, since the
 * caller can only retry later.
 */
export class MedtechBookingClient implements MedtechBookingPlatform {
  private readonly o: z.infer<typeof medtechBookingClientSchema>;
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });

  constructor(options: MedtechBookingClientOptions) {
    this.o = medtechBookingClientSchema.parse(options);
  }

  async items(): Promise<PlatformItem[]> {
    return this.call('GET', '/api/items', undefined, z.array(platformItemSchema));
  }

  async slots(query: { itemCode?: string; campus?: string; date?: string }): Promise<PlatformSlot[]> {
    const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')).toString();
    return this.call('GET', `/api/slots${qs ? `?${qs}` : ''}`, undefined, z.array(platformSlotSchema));
  }

  async book(r: BookRequest): Promise<PlatformBooking> {
    return this.call('POST', '/api/bookings', r, platformBookingSchema);
  }

  async cancel(bookingId: string, reason: string): Promise<PlatformBooking> {
    return this.call('POST', `/api/bookings/${encodeURIComponent(bookingId)}/cancel`, { reason }, platformBookingSchema);
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, data: z.ZodType<T>): Promise<T> {
    const target = `${method} ${this.o.url.replace(/\/$/, '')}${path.split('?')[0]}`;
    let status: number;
    let text: string;
    try {
      const res = await request(`${this.o.url.replace(/\/$/, '')}${path}`, {
        method,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        headers: { authorization: `Bearer ${this.o.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new MedtechBookingUnavailable(`${target}: ${transportProblem(err, this.o.timeoutMs)}`);
    }
    const json = parseJson(text);
    if (status === 401 || status === 403) throw new MedtechBookingUnavailable(`${target}: HTTP ${status}: the platform refused our token`);
    if (status >= 400 && status < 500) {
      const refusal = refusalBody.safeParse(json);
      if (refusal.success) throw new MedtechBookingRefusal(status, refusal.data.code, refusal.data.message);
    }
    if (status >= 300) throw new MedtechBookingUnavailable(`${target}: HTTP ${status}: ${text.slice(0, 300)}`);
    const answer = z.object({ code: z.literal('0'), data }).safeParse(json);
    if (!answer.success) throw new MedtechBookingUnavailable(`${target}: malformed answer (${answer.error.issues[0]?.path.join('.')}: ${answer.error.issues[0]?.message}): ${text.slice(0, 300)}`);
    return answer.data.data;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function transportProblem(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(code ?? '')) return `no complete answer within ${timeoutMs} ms`;
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  return `${e.message ?? String(err)}${code ? ` (${code})` : ''}`;
}
