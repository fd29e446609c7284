import { randomUUID } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { HisOrder, HisPatient } from './his-state';

/**
 * The HIS side of the 互联互通 HL7 v3 messages (layout and OIDs as in ../shared/domain/formats.md §3). Written for the
 * simulator alone: simulators import nothing of the product, so that they test it rather than mirror it.
 */

const DEVICE_OID = '2.16.156.10011.2.5.1.3';
const MESSAGE_OID = '2.16.156.10011.2.5.1.1';
const PATIENT_OID = '2.16.156.10011.2.5.1.4';
const ID_CARD_OID = '2.16.156.10011.1.3';
const HIS_DEVICE = 'HIS';

type Node = Record<string, unknown>;

export interface V3Request {
  interaction: string;
  messageId?: string;
  senderDevice?: string;
  root: Node;
}

export class V3Error extends Error {}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false });

export const child = (n: unknown, ...path: string[]): Node | undefined => {
  let cur = n as Node | undefined;
  for (const name of path) {
    const v = cur?.[name];
    cur = (Array.isArray(v) ? v[0] : v) as Node | undefined;
  }
  return cur;
};
const children = (n: unknown, name: string): Node[] => {
  const v = (n as Node | undefined)?.[name];
  return (Array.isArray(v) ? v : v ? [v] : []) as Node[];
};
export const attr = (n: Node | undefined, name: string): string | undefined => {
  const v = n?.[`@${name}`];
  return typeof v === 'string' && v ? v : undefined;
};

export function readRequest(xml: string): V3Request {
  // A HIS behind a hospital firewall still must not expand entities a caller sends it.
  if (/<!\s*(DOCTYPE|ENTITY)/i.test(xml)) throw new V3Error('不接受 DTD (document type declarations are refused)');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new V3Error(`XML 格式错误: ${valid.err.msg}`);
  const doc = parser.parse(xml) as Node;
  const interaction = Object.keys(doc).find((k) => /^[A-Z]{4}_IN\d{6}/.test(k));
  if (!interaction) throw new V3Error('不是 HL7 v3 交互消息 (no interaction root element)');
  const root = child(doc, interaction)!;
  return {
    interaction, root,
    messageId: attr(child(root, 'id'), 'extension'),
    senderDevice: attr(child(root, 'sender', 'device', 'id', 'item'), 'extension'),
  };
}

export function esc(s: string | undefined): string {
  return (s ?? '').replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function now(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** Transmission wrapper: every 互联互通 message starts the same way. */
export function header(interaction: string, receiver: string | undefined): string {
  const party = (tag: string, type: string, ext: string | undefined) =>
    `  <${tag} typeCode="${type}"><device classCode="DEV" determinerCode="INSTANCE"><id><item root="${DEVICE_OID}" extension="${esc(ext)}"/></id></device></${tag}>\n`;
  return `  <id root="${MESSAGE_OID}" extension="${randomUUID()}"/>
  <creationTime value="${now()}"/>
  <interactionId root="2.16.156.10011.2.5.1.2" extension="${interaction}"/>
  <processingCode code="P"/>
  <processingModeCode/>
  <acceptAckCode code="AL"/>
${party('receiver', 'RCV', receiver)}${party('sender', 'SND', HIS_DEVICE)}`;
}

function acknowledgement(typeCode: 'AA' | 'AE', text: string, target: V3Request | undefined, extra = ''): string {
  const targetId = target?.messageId ? `<targetMessage><id root="${MESSAGE_OID}" extension="${esc(target.messageId)}"/></targetMessage>` : '';
  return `  <acknowledgement typeCode="${typeCode}">${targetId}<acknowledgementDetail><text value="${esc(text)}"/></acknowledgementDetail>${extra}</acknowledgement>\n`;
}

export const open = (root: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<${root} ITSVersion="XML_1.0" xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n`;

export function ack(typeCode: 'AA' | 'AE', text: string, target?: V3Request): string {
  return `${open('MCCI_IN000002UV01')}${header('MCCI_IN000002UV01', target?.senderDevice)}${acknowledgement(typeCode, text, target)}</MCCI_IN000002UV01>\n`;
}

const ORDER_ID_OID = '2.16.156.10011.1.28';

/**
 * The answer to a 申请单 新增 from the platform: AA with the 医嘱号 the HIS assigned as a coded acknowledgement detail
 * (codeSystem = the 医嘱 ID root), which is where this HIS's interface puts it.
 */
export function orderAck(text: string, hisOrderId: string, target: V3Request): string {
  const detail = `<acknowledgementDetail typeCode="I"><code code="${esc(hisOrderId)}" codeSystem="${ORDER_ID_OID}" displayName="医嘱号"/></acknowledgementDetail>`;
  return `${open('MCCI_IN000002UV01')}${header('MCCI_IN000002UV01', target.senderDevice)}${acknowledgement('AA', text, target, detail)}</MCCI_IN000002UV01>\n`;
}

const RECEIPT_OID = '2.16.156.10011.2.5.1.96';

/** The answer to a 门诊收费 / 退费: AA with the 收据号 as a coded acknowledgement detail, as orderAck does the 医嘱号. */
export function receiptAck(text: string, receiptNo: string, target: V3Request): string {
  const detail = `<acknowledgementDetail typeCode="I"><code code="${esc(receiptNo)}" codeSystem="${RECEIPT_OID}" displayName="收据号"/></acknowledgementDetail>`;
  return `${open('MCCI_IN000002UV01')}${header('MCCI_IN000002UV01', target.senderDevice)}${acknowledgement('AA', text, target, detail)}</MCCI_IN000002UV01>\n`;
}

export interface PlacedOrder {
  /** The order number in the message (root 1.28): the platform's own for a 新增, the HIS 医嘱号 for an 更新. */
  number: string;
  patientId: string;
  code: string;
  name: string;
  status: string;
}

/** The ordered items of a 申请单 新增 / 更新 (POOR_IN200901UV / 200902UV, 申请单 form). */
export function ordersFromPoor(req: V3Request): PlacedOrder[] {
  const application = child(req.root, 'controlActProcess', 'subject', 'observationRequest');
  if (!application) throw new V3Error('缺少申请单 controlActProcess/subject/observationRequest');
  const patientId = attr(child(application, 'componentOf1', 'encounter', 'subject', 'patient', 'id', 'item'), 'extension');
  if (!patientId) throw new V3Error('缺少患者ID componentOf1/encounter/subject/patient/id');
  const items = children(application, 'component2').map((c) => child(c, 'observationRequest'));
  if (items.length === 0) throw new V3Error('申请单没有医嘱项目 (component2/observationRequest)');
  return items.map((item) => {
    const number = children(item, 'id').map((i) => child(i, 'item')).find((i) => attr(i, 'root') === ORDER_ID_OID);
    const code = child(item, 'code');
    if (!attr(number, 'extension') || !attr(code, 'code')) throw new V3Error('医嘱项目缺少医嘱ID或项目代码');
    return {
      number: attr(number, 'extension')!, patientId, code: attr(code, 'code')!,
      name: attr(child(code, 'displayName'), 'value') ?? attr(code, 'code')!,
      status: attr(child(item, 'statusCode'), 'code') ?? 'active',
    };
  });
}

export function patientPerson(p: HisPatient): string {
  return `<patientPerson classCode="PSN" determinerCode="INSTANCE">
              ${p.idCard ? `<id><item root="${ID_CARD_OID}" extension="${esc(p.idCard)}"/></id>` : ''}
              <name xsi:type="DSET_EN"><item><part value="${esc(p.name)}"/></item></name>
              ${p.phone ? `<telecom xsi:type="BAG_TEL"><item value="${esc(p.phone)}"/></telecom>` : ''}
              <administrativeGenderCode code="${p.gender}" codeSystem="2.16.156.10011.2.3.3.4"/>
              ${p.birthDate ? `<birthTime value="${esc(p.birthDate)}"/>` : ''}
              ${p.address ? `<addr xsi:type="BAG_AD"><item use="H"><part type="SAL" value="${esc(p.address)}"/></item></addr>` : ''}
            </patientPerson>`;
}

/** The patient element both the 注册 request and the 查询 answer carry. */
function patientSubject(p: HisPatient): string {
  return `        <subject1 typeCode="SBJ">
          <patient classCode="PAT">
            <id><item root="${PATIENT_OID}" extension="${esc(p.id)}"/></id>
            <statusCode code="active"/>
            ${patientPerson(p)}
          </patient>
        </subject1>`;
}

/** 个人信息注册, as the HIS pushes it to the platform when a patient is registered. */
export function patientRegistration(p: HisPatient, receiver = 'HIP'): string {
  return `${open('PRPA_IN201311UV02')}${header('PRPA_IN201311UV02', receiver)}  <controlActProcess classCode="CACT" moodCode="EVN">
    <subject typeCode="SUBJ">
      <registrationRequest classCode="REG" moodCode="RQO">
        <statusCode code="active"/>
${patientSubject(p)}
      </registrationRequest>
    </subject>
  </controlActProcess>
</PRPA_IN201311UV02>
`;
}

/** The patient carried by a 个人信息注册 / 更新 request. */
export function patientFromRegistration(req: V3Request): Omit<HisPatient, 'id'> & { id?: string } {
  const patient = child(req.root, 'controlActProcess', 'subject', 'registrationRequest', 'subject1', 'patient');
  const person = child(patient, 'patientPerson');
  if (!person) throw new V3Error('缺少 patientPerson (controlActProcess/subject/registrationRequest/subject1/patient/patientPerson)');
  const name = attr(child(person, 'name', 'item', 'part'), 'value');
  if (!name) throw new V3Error('缺少患者姓名 (patientPerson/name)');
  const idCard = children(person, 'id').map((i) => child(i, 'item')).find((i) => attr(i, 'root') === ID_CARD_OID);
  const gender = attr(child(person, 'administrativeGenderCode'), 'code');
  return {
    id: attr(child(patient, 'id', 'item'), 'extension'),
    name,
    idCard: attr(idCard, 'extension'),
    gender: (['0', '1', '2', '9'].includes(gender ?? '') ? gender : '0') as HisPatient['gender'],
    birthDate: attr(child(person, 'birthTime'), 'value'),
    phone: attr(child(person, 'telecom', 'item'), 'value'),
    address: attr(child(person, 'addr', 'item', 'part'), 'value'),
  };
}

/** livingSubjectId of a 个人信息查询: local patient id or 身份证. */
export function patientQuery(req: V3Request): { local?: string; idCard?: string } {
  const value = child(req.root, 'controlActProcess', 'queryByParameter', 'parameterList', 'livingSubjectId', 'value');
  const ext = attr(value, 'extension');
  if (!ext) throw new V3Error('缺少查询条件 livingSubjectId/value@extension');
  return attr(value, 'root') === ID_CARD_OID ? { idCard: ext } : { local: ext };
}

/** 个人信息查询 answer (PRPA_IN201306UV02): queryResponseCode OK with the patient, or NF. */
export function patientQueryAnswer(req: V3Request, p: HisPatient | undefined): string {
  const queryId = attr(child(req.root, 'controlActProcess', 'queryByParameter', 'queryId'), 'extension') ?? req.messageId;
  const subject = p ? `    <subject typeCode="SUBJ">
      <registrationEvent classCode="REG" moodCode="EVN">
        <statusCode code="active"/>
${patientSubject(p)}
      </registrationEvent>
    </subject>\n` : '';
  return `${open('PRPA_IN201306UV02')}${header('PRPA_IN201306UV02', req.senderDevice)}${acknowledgement('AA', p ? '查询成功' : '未找到患者', req)}  <controlActProcess classCode="CACT" moodCode="EVN">
${subject}    <queryAck><queryId root="${MESSAGE_OID}" extension="${esc(queryId)}"/><queryResponseCode code="${p ? 'OK' : 'NF'}"/><resultTotalQuantity value="${p ? 1 : 0}"/></queryAck>
  </controlActProcess>
</PRPA_IN201306UV02>
`;
}

export function orderQueryPatient(req: V3Request): string {
  const id = attr(child(req.root, 'controlActProcess', 'queryByParameter', 'parameterList', 'patientId', 'value'), 'extension');
  if (!id) throw new V3Error('缺少查询条件 parameterList/patientId/value@extension');
  return id;
}

const CHARGE_STATUS = { unpaid: ['0', '未收费'], paid: ['1', '已收费'], refunded: ['2', '已退费'] } as const;

/**
 * An order's price and 收费 state. The standard order model has no slot for them, so this HIS puts them where the
 * vendor interfaces do: `component1/charge` (收费明细ID under 2.16.156.10011.2.5.1.97, 收费项目, quantity, unit price,
 * amount in 元) and a local-code observation (codeSystem 2.16.156.10011.2.5.1.99) for the 收费状态.
 */
export function chargeOf(o: HisOrder, pad: string): string {
  return `${pad}<component1><charge>${o.chargeId ? `<id><item root="2.16.156.10011.2.5.1.97" extension="${esc(o.chargeId)}"/></id>` : ''}` +
    `<code code="${esc(o.code)}" codeSystem="2.16.156.10011.2.5.1.98" displayName="${esc(o.name)}"/>` +
    `${o.quantity !== undefined ? `<unitQuantity value="${o.quantity}"${o.unit ? ` unit="${esc(o.unit)}"` : ''}/>` : ''}` +
    `${o.unitPrice ? `<unitPriceAmt value="${o.unitPrice}" currency="CNY"/>` : ''}<amount value="${o.price}" currency="CNY"/></charge></component1>\n` +
    `${pad}<subjectOf><observation classCode="OBS" moodCode="EVN"><code code="CHARGE_STATUS" codeSystem="2.16.156.10011.2.5.1.99" displayName="收费状态"/><value code="${CHARGE_STATUS[o.chargeStatus][0]}" displayName="${CHARGE_STATUS[o.chargeStatus][1]}"/></observation></subjectOf>`;
}

/** 医嘱查询 answer, each order with its price and 收费 state (chargeOf). */
export function orderQueryAnswer(req: V3Request, patientId: string, orders: HisOrder[]): string {
  const items = orders.map((o) => `    <component2>
      <observationRequest classCode="OBS" moodCode="RQO">
        <id><item root="2.16.156.10011.1.28" extension="${esc(o.id)}"/></id>
        <code code="${esc(o.code)}" codeSystem="2.16.156.10011.2.5.1.98" displayName="${esc(o.name)}"><qualifier><value code="${o.category}"/></qualifier></code>
        <statusCode code="active"/>
        <effectiveTime value="${o.orderedAt}"/>
${chargeOf(o, '        ')}
      </observationRequest>
    </component2>\n`).join('');
  return `${open('POOR_IN200901UV')}${header('POOR_IN200901UV', req.senderDevice)}${acknowledgement('AA', `${orders.length} 条医嘱`, req)}  <controlActProcess classCode="CACT" moodCode="EVN">
    <subject typeCode="SUBJ">
      <placerGroup classCode="GROUPER" moodCode="RQO">
        <subject><patient classCode="PAT"><id><item root="${PATIENT_OID}" extension="${esc(patientId)}"/></id></patient></subject>
${items}      </placerGroup>
    </subject>
  </controlActProcess>
</POOR_IN200901UV>
`;
}
