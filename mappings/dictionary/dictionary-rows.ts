import { z } from 'zod';

/**
 * The rows the dictionary sources send, as they send them. The HIS keeps prices in 元 with two decimals (as in its
 * 医嘱 messages); times carry their offset. A row is never deleted at a source: it is stopped (停用) or withdrawn, and
 * Lingshu retires its resources.
 */
const time = z.string().refine((t) => !Number.isNaN(Date.parse(t)) && /[zZ]|[+-]\d\d:?\d\d$/.test(t), 'a date-time with its offset');
const yuan = z.string().regex(/^\d+(\.\d{1,2})?$/, 'an amount in 元 with at most 2 decimals');
const code = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/, '1 to 64 letters, digits, ".", "_" or "-"');
const text = z.string().trim().min(1);

/** HIS 收费项目 (lab / exam / treatment): GET <his>/api/dictionary/charge-items. */
export const hisChargeItemSchema = z.object({
  code,
  name: text,
  /** The HIS's 拼音码 (XCG), typed at its counters; may differ from the computed initials of polyphonic characters. */
  pinyin: z.string().trim().optional(),
  category: z.enum(['lab', 'exam', 'treatment']),
  price: yuan,
  /** What one price is for: 次, 项, 部位. */
  unit: text,
  deptCode: z.string().trim().optional(),
  deptName: z.string().trim().optional(),
  /** 特殊项目: a patient ordering it for themselves (自助开单) must give a reason. */
  special: z.boolean().default(false),
  /** 注意事项 shown before ordering (空腹, 憋尿 …). */
  precautions: z.string().trim().optional(),
  status: z.enum(['active', 'stopped']),
  updatedAt: time,
});
export type HisChargeItemRow = z.infer<typeof hisChargeItemSchema>;

/** HIS 药品字典: GET <his>/api/dictionary/drugs. `code` is the drug's 收费项目 code, the one its 医嘱 carry. */
export const hisDrugSchema = z.object({
  code,
  name: text,
  genericName: z.string().trim().optional(),
  pinyin: z.string().trim().optional(),
  spec: z.string().trim().optional(),
  form: z.string().trim().optional(),
  /** 包装单位 the HIS sells it in (盒, 瓶). */
  unit: text,
  manufacturer: z.string().trim().optional(),
  approvalNo: z.string().trim().optional(),
  price: yuan.optional(),
  /** 说明书 as one text. */
  insert: z.string().trim().optional(),
  status: z.enum(['active', 'stopped']),
  updatedAt: time,
});
export type HisDrugRow = z.infer<typeof hisDrugSchema>;

/** The third-party drug database's export: GET <db>/api/v1/drugs and /api/v1/drugs/changes. */
export const drugDatabaseSchema = z.object({
  drugId: code,
  /** 药品名称 as on the pack (通用名 + 剂型: 阿莫西林胶囊). */
  productName: text,
  genericName: z.string().trim().optional(),
  tradeName: z.string().trim().optional(),
  specification: z.string().trim().optional(),
  dosageForm: z.string().trim().optional(),
  packUnit: text,
  manufacturer: z.string().trim().optional(),
  approvalNo: z.string().trim().optional(),
  /** 说明书 by section. */
  insert: z.object({
    indications: z.string().optional(),
    dosage: z.string().optional(),
    adverseReactions: z.string().optional(),
    contraindications: z.string().optional(),
    precautions: z.string().optional(),
    storage: z.string().optional(),
  }).partial().optional(),
  /** normal, or withdrawn (撤市 / 停产); `deleted` when the database dropped the record. */
  status: z.enum(['normal', 'withdrawn']),
  deleted: z.boolean().default(false),
  changedAt: time,
});
export type DrugDatabaseRow = z.infer<typeof drugDatabaseSchema>;

/** One message of a dictionary channel: one row of one feed. */
export const dictionaryMessageSchema = z.discriminatedUnion('feed', [
  z.object({ feed: z.literal('his-charge-items'), row: hisChargeItemSchema }),
  z.object({ feed: z.literal('his-drugs'), row: hisDrugSchema }),
  z.object({ feed: z.literal('drug-database'), row: drugDatabaseSchema }),
]);
export type DictionaryMessage = z.infer<typeof dictionaryMessageSchema>;
export type DictionaryFeed = DictionaryMessage['feed'];
