import type { CodeableConcept, Observation, ObservationReferenceRange, Quantity } from '@medplum/fhirtypes';
import { codeableConcept } from './hl7-datatypes';
import { fhirDateTime } from './hl7-datetime';
import type { Hl7Segment } from './hl7-message';
import type { ResolvedContext } from './mapping-context';
import { MappingProblem } from './mapping-problem';

const UCUM = 'http://unitsofmeasure.org';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/**
 * Units as LIS systems write them (OBX-6) → UCUM. Chinese LIS exports write powers of ten every way (10^9/L,
 * ×10^9/L, 10E9/L, 10*9/L) and the micro sign as μ, µ or u. A unit not listed keeps its text without a UCUM code.
 */
const UCUM_UNITS: Readonly<Record<string, string>> = {
  '10*9/L': '10*9/L', '10^9/L': '10*9/L', '×10^9/L': '10*9/L', 'x10^9/L': '10*9/L', '10E9/L': '10*9/L', '10(9)/L': '10*9/L', '×10⁹/L': '10*9/L',
  '10*12/L': '10*12/L', '10^12/L': '10*12/L', '×10^12/L': '10*12/L', 'x10^12/L': '10*12/L', '10E12/L': '10*12/L', '10(12)/L': '10*12/L', '×10¹²/L': '10*12/L',
  'g/L': 'g/L', 'g/dL': 'g/dL', 'mg/L': 'mg/L', 'mg/dL': 'mg/dL', 'ug/L': 'ug/L', 'μg/L': 'ug/L', 'µg/L': 'ug/L', 'ng/mL': 'ng/mL', 'pg/mL': 'pg/mL',
  'mmol/L': 'mmol/L', 'umol/L': 'umol/L', 'μmol/L': 'umol/L', 'µmol/L': 'umol/L', 'nmol/L': 'nmol/L', 'pmol/L': 'pmol/L',
  'U/L': 'U/L', 'IU/L': '[IU]/L', 'mIU/mL': 'm[IU]/mL', 'mIU/L': 'm[IU]/L', 'uIU/mL': 'u[IU]/mL', 'μIU/mL': 'u[IU]/mL', 'µIU/mL': 'u[IU]/mL', 'IU/mL': '[IU]/mL',
  fL: 'fL', fl: 'fL', pg: 'pg', '%': '%', 'mm/h': 'mm/h', s: 's', sec: 's', '秒': 's', mmHg: 'mm[Hg]', 'mL/min': 'mL/min', kg: 'kg', cm: 'cm', g: 'g',
  mo: 'mo', d: 'd', '/uL': '/uL', '/HPF': '/[HPF]', '/LPF': '/[LPF]', 'mOsm/kg': 'mosm/kg',
};

export function quantity(value: number, unitField: string, comparator?: Quantity['comparator']): Quantity {
  const code = UCUM_UNITS[unitField] ?? UCUM_UNITS[unitField.replace(/\s/g, '')];
  return {
    value,
    ...(comparator ? { comparator } : {}),
    ...(unitField ? { unit: unitField } : {}),
    ...(code ? { system: UCUM, code } : {}),
  };
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * OBX-5 as the value[x] its type (OBX-2) says. A LIS puts `<0.5`, `>1000` or `阴性` in NM fields: a comparator
 * becomes Quantity.comparator, anything else not numeric is kept as a string rather than refused, since refusing
 * would lose the whole report.
 */
export function observationValue(obx: Hl7Segment, ctx: ResolvedContext, sendingApplication: string): Partial<Observation> {
  const raw = obx.raw(5);
  if (raw.length > ctx.maxObservationValueLength) {
    throw new MappingProblem('too-long', obx.where(5), `${obx.where(5)} (observation value) has ${raw.length} characters; the limit is ${ctx.maxObservationValueLength}`);
  }
  const type = obx.get(2).toUpperCase();
  const reps = obx.repetitions(5);
  if (reps.length === 0) return {};
  const unit = obx.get(6, 2) && !obx.get(6, 1) ? obx.get(6, 2) : obx.get(6, 1) || obx.get(6, 2);
  switch (type) {
    case 'NM': return numeric(obx.get(5).trim(), unit);
    case 'SN': return structuredNumeric(obx, unit);
    case 'CE': case 'CWE': case 'CNE': case 'CF': {
      const concept = codeableConcept(reps[0], sendingApplication);
      return concept ? { valueCodeableConcept: concept } : {};
    }
    case 'DT': case 'TS': case 'DTM': return dateValue(obx, ctx.utcOffset);
    case 'TM': return /^\d{4}(\d{2})?$/.test(obx.get(5)) ? { valueTime: `${obx.get(5).slice(0, 2)}:${obx.get(5).slice(2, 4)}:${obx.get(5).slice(4, 6) || '00'}` } : { valueString: obx.get(5) };
    // TX and FT repeat for paragraphs; the components of ST/TX are not structure but text that held a separator.
    default: return { valueString: reps.map((r) => r.text()).join('\n') };
  }
}

/** A result is never dropped for its form: a date value that is no date is kept as the text that was sent. */
function dateValue(obx: Hl7Segment, utcOffset: string): Partial<Observation> {
  try {
    return { valueDateTime: fhirDateTime(obx.get(5), obx.where(5), utcOffset) };
  } catch {
    return { valueString: obx.get(5) };
  }
}

function numeric(text: string, unit: string): Partial<Observation> {
  const compared = /^(<=|>=|<|>)\s*(.+)$/.exec(text);
  const number = compared ? compared[2] : text;
  if (!NUMBER.test(number)) return text ? { valueString: text } : {};
  return { valueQuantity: quantity(Number(number), unit, compared?.[1] as Quantity['comparator']) };
}

/** SN: comparator ^ number ^ separator ^ number (`<^5`, `^3^-^5` a range, `^1^:^128` a titre). */
function structuredNumeric(obx: Hl7Segment, unit: string): Partial<Observation> {
  const [comparator, n1, separator, n2] = [1, 2, 3, 4].map((c) => obx.get(5, c).trim());
  if (separator && NUMBER.test(n1) && NUMBER.test(n2)) {
    if (separator === ':' || separator === '/') return { valueRatio: { numerator: quantity(Number(n1), ''), denominator: quantity(Number(n2), '') } };
    return { valueRange: { low: quantity(Number(n1), unit), high: quantity(Number(n2), unit) } };
  }
  if (NUMBER.test(n1)) return { valueQuantity: quantity(Number(n1), unit, (['<', '>', '<=', '>='].includes(comparator) ? comparator : undefined) as Quantity['comparator']) };
  const text = [comparator, n1, separator, n2].join('');
  return text ? { valueString: text } : {};
}

const RANGE_BETWEEN = /^([+-]?\d+(?:\.\d+)?)\s*(?:-|～|—|–|~|至)\s*([+-]?\d+(?:\.\d+)?)$/;
const RANGE_BELOW = /^(?:<=|<|≤)\s*([+-]?\d+(?:\.\d+)?)$/;
const RANGE_ABOVE = /^(?:>=|>|≥)\s*([+-]?\d+(?:\.\d+)?)$/;

/**
 * OBX-7 reference range. Written `3.5-9.5`, `<5`, `>40`, with a full-width tilde (～, the ASCII one is the
 * repetition separator) or as text (`阴性`): the text is always kept, low/high when they can be read.
 */
export function referenceRange(obx: Hl7Segment, unit: string): ObservationReferenceRange[] | undefined {
  const text = obx.get(7).trim();
  if (!text) return undefined;
  const between = RANGE_BETWEEN.exec(text);
  const below = RANGE_BELOW.exec(text);
  const above = RANGE_ABOVE.exec(text);
  const range: ObservationReferenceRange = {
    ...(between ? { low: quantity(Number(between[1]), unit), high: quantity(Number(between[2]), unit) } : {}),
    ...(below ? { high: quantity(Number(below[1]), unit) } : {}),
    ...(above ? { low: quantity(Number(above[1]), unit) } : {}),
    text,
  };
  return [range];
}

/** OBX-8 abnormal flags (table 0078) → v3 ObservationInterpretation; domestic LIS also send ↑ ↓ 高 低 阳性 阴性. */
const FLAGS: Readonly<Record<string, { code: string; display: string }>> = {
  L: { code: 'L', display: 'Low' }, '↓': { code: 'L', display: 'Low' }, '低': { code: 'L', display: 'Low' },
  H: { code: 'H', display: 'High' }, '↑': { code: 'H', display: 'High' }, '高': { code: 'H', display: 'High' },
  LL: { code: 'LL', display: 'Critical low' }, HH: { code: 'HH', display: 'Critical high' },
  N: { code: 'N', display: 'Normal' }, A: { code: 'A', display: 'Abnormal' }, AA: { code: 'AA', display: 'Critical abnormal' },
  '<': { code: '<', display: 'Off scale low' }, '>': { code: '>', display: 'Off scale high' },
  S: { code: 'S', display: 'Susceptible' }, R: { code: 'R', display: 'Resistant' }, I: { code: 'I', display: 'Intermediate' },
  POS: { code: 'POS', display: 'Positive' }, '阳性': { code: 'POS', display: 'Positive' }, '+': { code: 'POS', display: 'Positive' },
  NEG: { code: 'NEG', display: 'Negative' }, '阴性': { code: 'NEG', display: 'Negative' }, '-': { code: 'NEG', display: 'Negative' },
  IND: { code: 'IND', display: 'Indeterminate' }, DET: { code: 'DET', display: 'Detected' }, ND: { code: 'ND', display: 'Not detected' },
  U: { code: 'U', display: 'Significant change up' }, D: { code: 'D', display: 'Significant change down' },
  B: { code: 'B', display: 'Better' }, W: { code: 'W', display: 'Worse' },
};

export function interpretation(obx: Hl7Segment): CodeableConcept[] | undefined {
  const flags = obx.repetitions(8).map((r) => r.get(1).trim()).filter(Boolean);
  if (flags.length === 0) return undefined;
  return flags.map((flag) => {
    const known = FLAGS[flag.toUpperCase()] ?? FLAGS[flag];
    return known ? { coding: [{ system: INTERPRETATION, ...known }] } : { text: flag };
  });
}
