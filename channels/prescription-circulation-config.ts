import { z } from 'zod';

const listing = {
  name: z.string().min(1),
  address: z.string().optional(),
  phone: z.string().optional(),
};

/** A pharmacy a patient can send a prescription to: a campus pharmacy behind the platform, or a pharmacy's own API. */
const pharmacySchema = z.discriminatedUnion('via', [
  z.object({ via: z.literal('platform'), ...listing }).strict(),
  z.object({
    via: z.literal('api'),
    ...listing,
    /** Base of its prescription API (POST <url>/prescriptions). */
    url: z.string().url(),
    appId: z.string().min(1),
    /** The HMAC key: a file (mounted secret) or an environment variable; `key` inline only from TypeScript (demo). */
    keyFile: z.string().optional(),
    keyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
    key: z.string().optional(),
  }).strict(),
]);

/** `hospital.channels.prescriptionCirculation` (channels/prescription-circulation.ts). */
export const prescriptionCirculationSchema = z.object({
  enabled: z.boolean(),
  timeoutMs: z.number().int().positive(),
  /** The 处方流转平台 (医保电子处方中心): where prescriptions for the campus pharmacies go. */
  platform: z.object({
    /** Base URL of its services (POST <url>/uploadChk …). */
    url: z.string(),
    /** 定点医药机构编号 of the hospital. */
    fixmedinsCode: z.string(),
    /** When to ask it about 审方 and 取药 (croner; six fields allow seconds). */
    pollCron: z.string().min(1),
    validDays: z.number().int().min(1).max(30),
  }),
  /** When to ask the API pharmacies (GET /prescriptions/<rxNo>) about prescriptions whose callback may be lost. */
  pharmacyPollCron: z.string().min(1).default('0 */5 * * * *'),
  /** Days a prescription sent to an API pharmacy stays valid from 开方时间 (at the platform: platform.validDays). */
  pharmacyValidDays: z.number().int().min(1).max(30).default(3),
  /** When to look for prescriptions not picked up within their validity (expired: undone, refund requested). */
  expiryCron: z.string().min(1).default('0 */10 * * * *'),
  /** Pharmacy code (Organization.identifier) → how it is reached. Each becomes an Organization at start. */
  pharmacies: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'letters, digits, - and _'), pharmacySchema),
}).superRefine((c, ctx) => {
  if (!c.enabled) return;
  const viaPlatform = Object.values(c.pharmacies).some((p) => p.via === 'platform');
  if (viaPlatform && !c.platform.url) ctx.addIssue({ code: 'custom', path: ['platform', 'url'], message: 'is required when a pharmacy is reached via the platform' });
  if (viaPlatform && !c.platform.fixmedinsCode) ctx.addIssue({ code: 'custom', path: ['platform', 'fixmedinsCode'], message: 'is required when a pharmacy is reached via the platform' });
  for (const [code, p] of Object.entries(c.pharmacies)) {
    if (p.via === 'api' && !p.key && !p.keyFile && !p.keyEnv) ctx.addIssue({ code: 'custom', path: ['pharmacies', code], message: 'needs keyFile or keyEnv' });
  }
});

export type PrescriptionCirculationConfig = z.infer<typeof prescriptionCirculationSchema>;
