import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { TypedElement } from './typed-element-walker';
import { type Expansion, expandValueSet, expansionContains } from './value-set-expansion';

/** Types whose value a code binding constrains; a binding on any other type (Quantity, Reference…) is not checked. */
const CODE_TYPES = new Set(['code', 'string', 'uri', 'Coding', 'CodeableConcept']);

/**
 * The issue for an element value outside the value set of its `required` binding, or undefined when the value is in
 * it, the element has no required binding, or the value set cannot be expanded offline (value-set-expansion.ts).
 */
export function requiredBindingIssue({ value, type, path, element }: TypedElement): OperationOutcomeIssue | undefined {
  const binding = element.binding;
  if (binding?.strength !== 'required' || !binding.valueSet || !CODE_TYPES.has(type)) return undefined;
  const expansion = expandValueSet(binding.valueSet);
  if (!expansion) return undefined;
  const valueSetUrl = binding.valueSet.split('|')[0];
  if (type === 'Coding') return codingIssue(value, path, expansion, valueSetUrl);
  if (type === 'CodeableConcept') {
    if (typeof value !== 'object' || value === null) return undefined;
    const codings = (value as { coding?: unknown }).coding;
    if (!Array.isArray(codings) || codings.length === 0) {
      // R4 §4.1.5.1: with a required binding the concept SHALL be coded from the value set; text alone is not enough.
      return issue(`${path}.coding`, `a coding from ${valueSetUrl} is required here`, 'required');
    }
    if (codings.some((c) => codingIssue(c, path, expansion, valueSetUrl) === undefined)) return undefined;
    return issue(`${path}.coding`, `none of the codings is in the value set ${valueSetUrl}${examples(expansion)}`);
  }
  if (typeof value !== 'string' || expansionContains(expansion, value)) return undefined;
  return issue(path, `'${value}' is not in the value set ${valueSetUrl}${examples(expansion)}`);
}

function codingIssue(value: unknown, path: string, expansion: Expansion, valueSetUrl: string): OperationOutcomeIssue | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { system, code } = value as { system?: unknown; code?: unknown };
  if (typeof code !== 'string') return issue(`${path}.code`, `a code from ${valueSetUrl} is required here`, 'required');
  if (expansionContains(expansion, code, typeof system === 'string' ? system : undefined)) return undefined;
  const where = typeof system === 'string' ? `${system}|${code}` : `'${code}'`;
  return issue(`${path}.code`, `${where} is not in the value set ${valueSetUrl}${examples(expansion)}`);
}

/** Lists the allowed codes when they are few enough to read. */
function examples(expansion: Expansion): string {
  const codes = [...expansion.values()].flatMap((set) => [...set]);
  return codes.length <= 12 ? ` (allowed: ${codes.join(', ')})` : '';
}

function issue(expression: string, diagnostics: string, code: OperationOutcomeIssue['code'] = 'code-invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
