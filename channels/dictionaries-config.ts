import { z } from 'zod';

const schedule = {
  /** croner patterns (six fields = seconds), in the server's time zone: increments often, everything nightly. */
  incrementalCron: z.string().min(1),
  fullCron: z.string().min(1),
  pageSize: z.number().int().min(1).max(200),
  timeoutMs: z.number().int().positive(),
};

/** The HIS's 收费项目 (and 药品) dictionary view → ActivityDefinition + ChargeItemDefinition (Medication + MedicationKnowledge). */
export const hisChargeItemsSchema = z.object({
  enabled: z.boolean(),
  /** Base URL of the HIS dictionary view: `<url>/charge-items`, `<url>/drugs`. */
  url: z.string(),
  /** Also the HIS 药品字典, whose codes are the 收费项目 codes drug orders carry. */
  drugs: z.boolean(),
  ...schedule,
}).superRefine((c, ctx) => {
  if (c.enabled && !/^https?:\/\//.test(c.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'an http(s) URL is required when the channel is enabled' });
});

/** A licensed third-party drug database → Medication + MedicationKnowledge with package inserts. */
export const drugDatabaseSchema = z.object({
  enabled: z.boolean(),
  /** Base URL; the API under `<url>/api/v1`. */
  url: z.string(),
  /** The vendor's API key: LINGSHU_HOSPITAL__CHANNELS__DRUG_DATABASE__API_KEY, never in a file in the repository. */
  apiKey: z.string(),
  ...schedule,
}).superRefine((c, ctx) => {
  if (!c.enabled) return;
  if (!/^https?:\/\//.test(c.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'an http(s) URL is required when the channel is enabled' });
  if (!c.apiKey) ctx.addIssue({ code: 'custom', path: ['apiKey'], message: 'is required when the channel is enabled' });
});
