import type { HisOrder, HisPatient } from './his-state';
import { chargeOf, esc, header, open, patientPerson } from './his-v3';

/**
 * 医嘱新增 (POOR_IN200901UV) as this HIS pushes a new prescription or 申请单 to the platform, each item with its price
 * (chargeOf). A prescription uses the 医嘱 form (sample H0801Rt.xml: placerGroup, its id the 处方编号 under
 * 2.16.156.10011.1.20, one substanceAdministrationRequest per drug); a 检查 / 检验 order the 申请单 form (sample
 * H0901Rt.xml: observationRequest with the 电子申请单编号, one observationRequest per item).
 */
const SNOMED = '2.16.840.1.113883.6.96';
const CATEGORY = { exam: ['363679005', '检查'], lab: ['108252007', '检验'], treatment: ['277132007', '治疗'] } as const;

export interface PushContext {
  patient: HisPatient;
  /** 就诊流水号 */
  visitId: string;
  doctor: { id: string; name: string };
  orderedAt: string;
  receiver?: string;
}

const note = (text: string | undefined, pad: string) => (text ? `${pad}<subjectOf6 typeCode="SUBJ" contextConductionInd="false"><seperatableInd value="false"/><annotation><text value="${esc(text)}"/><statusCode code="completed"/></annotation></subjectOf6>\n` : '');

function author(c: PushContext): string {
  return `        <author typeCode="AUT">
          <time value="${c.orderedAt}"/>
          <signatureText value="${esc(c.doctor.name)}"/>
          <assignedEntity classCode="ASSIGNED">
            <id><item root="2.16.156.10011.1.4" extension="${esc(c.doctor.id)}"/></id>
            <assignedPerson classCode="PSN" determinerCode="INSTANCE"><name xsi:type="BAG_EN"><item><part value="${esc(c.doctor.name)}"/></item></name></assignedPerson>
          </assignedEntity>
        </author>\n`;
}

function encounter(c: PushContext): string {
  return `        <componentOf1 contextConductionInd="false">
          <encounter classCode="ENC" moodCode="EVN">
            <id><item root="2.16.156.10011.2.5.1.9" extension="${esc(c.visitId)}"/></id>
            <code code="1" codeSystem="2.16.156.10011.2.3.1.271"><displayName value="门诊"/></code>
            <statusCode code="active"/>
            <subject typeCode="SBJ">
              <patient classCode="PAT">
                <id><item root="2.16.156.10011.2.5.1.4" extension="${esc(c.patient.id)}"/></id>
                <statusCode code="active"/>
                ${patientPerson(c.patient)}
              </patient>
            </subject>
          </encounter>
        </componentOf1>\n`;
}

function message(body: string, c: PushContext): string {
  return `${open('POOR_IN200901UV')}${header('POOR_IN200901UV', c.receiver ?? 'HIP')}  <controlActProcess classCode="CACT" moodCode="EVN">
    <subject typeCode="SUBJ">
${body}    </subject>
  </controlActProcess>
</POOR_IN200901UV>
`;
}

function drugItem(o: HisOrder): string {
  const d = o.drug!;
  return `        <component2>
          <substanceAdministrationRequest classCode="SBADM" moodCode="RQO">
            <id root="2.16.156.10011.1.28" extension="${esc(o.id)}"/>
            <code code="01" codeSystem="2.16.156.10011.2.3.1.268"><displayName value="西药"/></code>
            <statusCode code="${esc(o.status ?? 'active')}"/>
            <effectiveTime xsi:type="QSC_TS" validTimeLow="${o.orderedAt.slice(0, 8)}">
              <code code="${esc(d.frequency[0])}" codeSystem="2.16.156.10011.2.3.1.267"><displayName value="${esc(d.frequency[1])}"/></code>
            </effectiveTime>
            <routeCode code="${esc(d.route[0])}" codeSystem="2.16.156.10011.2.3.1.158"><displayName value="${esc(d.route[1])}"/></routeCode>
            <doseQuantity value="${esc(d.dose)}" unit="${esc(d.doseUnit)}"/>
            <doseCheckQuantity xsi:type="DSET_RTO"><item><denominator xsi:type="PQ" value="${d.days}" unit="d"/></item></doseCheckQuantity>
            <consumable2 typeCode="CSM"><manufacturedProduct1 classCode="MANU"><manufacturedProduct classCode="MMAT" determinerCode="KIND">
              <code code="${esc(o.code)}" codeSystem="2.16.156.10011.2.5.1.14"/>
              <name xsi:type="BAG_EN"><item><part value="${esc(o.name)}"/></item></name>
            </manufacturedProduct></manufacturedProduct1></consumable2>
            <component2><supplyRequest classCode="SPLY" moodCode="RQO"><statusCode code="active"/><quantity value="${o.quantity ?? 1}"${o.unit ? ` unit="${esc(o.unit)}"` : ''}/></supplyRequest></component2>
${chargeOf(o, '            ')}
${note(o.note, '            ')}          </substanceAdministrationRequest>
        </component2>\n`;
}

/** A prescription: the drugs sharing one 处方号. */
export function prescriptionPush(prescriptionNo: string, drugs: HisOrder[], c: PushContext): string {
  return message(`      <placerGroup classCode="GROUPER" moodCode="RQO">
        <id><item root="2.16.156.10011.1.20" extension="${esc(prescriptionNo)}"/></id>
        <statusCode code="active"/>
${author(c)}${drugs.map(drugItem).join('')}${encounter(c)}      </placerGroup>\n`, c);
}

function applicationItem(o: HisOrder): string {
  return `        <component2>
          <observationRequest classCode="OBS" moodCode="RQO">
            <id><item root="2.16.156.10011.1.28" extension="${esc(o.id)}"/></id>
            <code code="${esc(o.code)}" codeSystem="2.16.156.10011.2.5.1.98"><displayName value="${esc(o.name)}"/></code>
            <statusCode code="${esc(o.status ?? 'active')}"/>
${chargeOf(o, '            ')}
          </observationRequest>
        </component2>\n`;
}

/** A 检查 / 检验 / 治疗 申请单 with its items. */
export function applicationPush(requisition: string, category: keyof typeof CATEGORY, items: HisOrder[], c: PushContext, instruction?: string): string {
  const [code, name] = CATEGORY[category];
  return message(`      <observationRequest classCode="OBS" moodCode="RQO">
        <id><item root="2.16.156.10011.1.24" extension="${esc(requisition)}"/></id>
        <code code="${code}" codeSystem="${SNOMED}"><displayName value="${name}"/></code>
        <statusCode code="active"/>
${author(c)}${items.map(applicationItem).join('')}${note(instruction, '        ')}${encounter(c)}      </observationRequest>\n`, c);
}
