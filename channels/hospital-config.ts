import { z } from 'zod';
import { paymentGatewaysSchema } from '../adapters/payment/payment-gateways';
import type { LingshuConfig } from '../engine/config/config';
import { drugDatabaseSchema, hisChargeItemsSchema } from './dictionaries-config';
import { prescriptionCirculationSchema } from './prescription-circulation-config';

const mllpPort = z.number().int().min(0).max(65535);

/**
 * The `hospital:` section of the configuration (config/default.yaml): which interfaces run, where their peers are,
 * and how the hospital names its identifiers. Every channel is off until a site turns it on; the demo profile turns
 * them all on against the simulated hospital (demo-hospital.ts).
 */
export const hospitalSchema = z.object({
  /** Root OID of the platform's EMPI (主索引) patient id: the patient's primary identifier (mappings/hl7v3/README.md). */
  empiRoot: z.string().regex(/^\d+(\.\d+)+$/, 'an OID'),
  /** Lingshu's device id in 互联互通 messages, and the HIS's. */
  device: z.string().min(1),
  hisDevice: z.string().min(1),
  /** HL7 v2 assigning authorities (CX.4 / EI.2 as the senders write them) → Identifier.system. */
  authorities: z.record(z.string(), z.string().min(1)),
  /**
   * Online payment (issue 6): $checkout, the gateways' notifications at /channels/<gateway>/notify, and the active
   * query of unpaid orders. Gateway keys come from files or environment variables (adapters/payment), never from here.
   */
  payments: z.object({
    enabled: z.boolean(),
    /** Shown to the payer in the order description. */
    merchantName: z.string().min(1),
    /** Who receives the money (PaymentNotice.recipient). */
    payee: z.string().min(1),
    /** The public https base the gateways reach Lingshu at; notify_url = <base>/channels/<gateway>/notify. */
    notifyBaseUrl: z.string(),
    orderTtlMinutes: z.number().int().positive(),
    /** The active query: how often, and how long after the order a missing notification is looked for. */
    query: z.object({ cron: z.string().min(1), afterSeconds: z.number().int().min(0) }),
    gateways: paymentGatewaysSchema,
  }),
  channels: z.object({
    hisPatients: z.object({ enabled: z.boolean() }),
    hisPatientsAdt: z.object({ enabled: z.boolean(), port: mllpPort }),
    hisVisits: z.object({ enabled: z.boolean() }),
    hisOrders: z.object({ enabled: z.boolean() }),
    hisOrdersOut: z.object({
      enabled: z.boolean(),
      /** The HIS 互联互通 service's WSDL, and the address to call when the WSDL names an internal host. */
      wsdl: z.string(),
      endpoint: z.string(),
      hipAction: z.string().min(1),
      /** Lingshu's own order numbers, sent before the HIS has assigned its 医嘱号: prefix + ServiceRequest id. */
      placerPrefix: z.string().max(8),
      timeoutMs: z.number().int().positive(),
    }),
    hisCharges: z.object({
      enabled: z.boolean(),
      /** The HIS 互联互通 service's WSDL and address (as hisOrdersOut), and the actions it serves 门诊收费 / 门诊退费 under. */
      wsdl: z.string(),
      endpoint: z.string(),
      chargeAction: z.string().min(1),
      refundAction: z.string().min(1),
      timeoutMs: z.number().int().positive(),
    }),
    lisResults: z.object({ enabled: z.boolean(), port: mllpPort }),
    pacsReports: z.object({ enabled: z.boolean(), port: mllpPort }),
    reproductiveCenterResults: z.object({
      enabled: z.boolean(),
      port: mllpPort,
      /** The category every 生殖中心 report carries, so they can be searched apart (`DiagnosticReport?category=system|code`). */
      category: z.object({ system: z.string().min(1), code: z.string().min(1), display: z.string() }),
    }),
    /** 医技预约 platform: $book / $cancel-booking, and its 停诊 notices at /channels/medtech-booking/notify. */
    medtechBooking: z.object({
      enabled: z.boolean(),
      /** The platform's base URL (its API under /api). */
      url: z.string(),
      /** Bearer token the platform issued; it sends the same one with its notices. From the environment. */
      token: z.string(),
      timeoutMs: z.number().int().positive(),
    }),
    /** Pulls the platform's 号源 into Schedule / Slot on `cron` (the platform's url and token above). */
    medtechSlots: z.object({ enabled: z.boolean(), cron: z.string().min(1) }),
    prescriptionCirculation: prescriptionCirculationSchema,
    /** Dictionaries on a schedule (channels/dictionaries.ts): the HIS 收费项目 / 药品字典 view, a third-party drug database. */
    hisChargeItems: hisChargeItemsSchema,
    drugDatabase: drugDatabaseSchema,
  }),
}).superRefine((h, ctx) => {
  if (h.payments.enabled && !/^https?:\/\//.test(h.payments.notifyBaseUrl)) {
    ctx.addIssue({ code: 'custom', path: ['payments', 'notifyBaseUrl'], message: 'an http(s) URL is required when payments are enabled' });
  }
  const out = h.channels.hisOrdersOut;
  if (out.enabled && !out.wsdl) ctx.addIssue({ code: 'custom', path: ['channels', 'hisOrdersOut', 'wsdl'], message: 'is required when the channel is enabled' });
  const medtech = h.channels.medtechBooking;
  if (medtech.enabled || h.channels.medtechSlots.enabled) {
    for (const field of ['url', 'token'] as const) {
      if (!medtech[field]) ctx.addIssue({ code: 'custom', path: ['channels', 'medtechBooking', field], message: 'is required when medtechBooking or medtechSlots is enabled' });
    }
  }
  const charges = h.channels.hisCharges;
  if (charges.enabled && !charges.wsdl) ctx.addIssue({ code: 'custom', path: ['channels', 'hisCharges', 'wsdl'], message: 'is required when the channel is enabled' });
});

export type HospitalConfig = z.infer<typeof hospitalSchema>;

export class HospitalConfigError extends Error {}

/** The hospital section, validated: an invalid value stops start-up naming the field, as the rest of the config does. */
export function hospitalConfig(config: LingshuConfig): HospitalConfig {
  const parsed = hospitalSchema.safeParse((config as Record<string, unknown>).hospital);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `hospital.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new HospitalConfigError(`invalid configuration: ${issues}`);
  }
  return parsed.data;
}
