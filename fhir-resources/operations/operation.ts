import type {
  CodeableConcept, Coding, Identifier, OperationDefinition, OperationDefinitionParameter, Period, Quantity, Reference,
  Resource, ResourceType,
} from '@medplum/fhirtypes';
import type { Repository } from '../store/repository';

/**
 * A FHIR operation is a declaration (name, level, parameters in and out) plus a function over the repository.
 * The declaration gives the OperationDefinition, the routing and the validation of Parameters; `run` receives
 * typed values and runs inside one repository transaction. See ../../shared/STYLE.md.
 */

export type OperationLevel = 'system' | 'type' | 'instance';

/** How many values a parameter takes, as the run function sees it: exactly one, at most one, or a list. */
export type Cardinality = 'one' | 'optional' | 'many';

/** FHIR data types a parameter may have (value[x] of Parameters.parameter), or a resource, or nested parts. */
export type PrimitiveParamType =
  | 'string' | 'code' | 'uri' | 'canonical' | 'id' | 'markdown' | 'date' | 'dateTime' | 'instant' | 'time'
  | 'boolean' | 'integer' | 'positiveInt' | 'unsignedInt' | 'decimal';
export type ComplexParamType = 'Reference' | 'Identifier' | 'Coding' | 'CodeableConcept' | 'Quantity' | 'Period';

export interface ParamSpec<T = unknown, C extends Cardinality = Cardinality> {
  readonly kind: 'primitive' | 'complex' | 'resource' | 'parts';
  /** FHIR type as written in OperationDefinition.parameter.type ('Resource' or a resource type for resources). */
  readonly type: string;
  readonly min: number;
  readonly max: number | '*';
  /** Allowed target types of a Reference. */
  readonly targets?: readonly ResourceType[];
  readonly parts?: ParamShape;
  readonly documentation?: string;
  /** Type-level only: carries the run function's value type; never set. */
  readonly __value?: T;
  readonly __card?: C;
}

export type ParamShape = Record<string, ParamSpec>;

/** The value the run function sees for one parameter. */
export type ParamValue<S> = S extends ParamSpec<infer T, infer C> ? (C extends 'many' ? T[] : C extends 'optional' ? T | undefined : T) : never;
export type ParamValues<P extends ParamShape> = { [K in keyof P]: ParamValue<P[K]> };
/** What a run function returns: optional outputs may be left out. */
export type OutputValues<P extends ParamShape> = {
  [K in keyof P as P[K] extends ParamSpec<unknown, 'one'> ? K : never]: ParamValue<P[K]>;
} & {
  [K in keyof P as P[K] extends ParamSpec<unknown, 'one'> ? never : K]?: ParamValue<P[K]>;
};

interface SpecOptions { documentation?: string }

function spec<T>(kind: ParamSpec['kind'], type: string, extra: Partial<ParamSpec> & SpecOptions = {}): ParamSpec<T, 'one'> {
  return { kind, type, min: 1, max: 1, ...extra } as ParamSpec<T, 'one'>;
}

type PrimitiveValue<K extends PrimitiveParamType> = K extends 'boolean' ? boolean
  : K extends 'integer' | 'positiveInt' | 'unsignedInt' | 'decimal' ? number : string;

/** A required primitive parameter, e.g. `primitive('code')`. Wrap in optional()/many() to change cardinality. */
export function primitive<K extends PrimitiveParamType>(type: K, options: SpecOptions = {}): ParamSpec<PrimitiveValue<K>, 'one'> {
  return spec('primitive', type, options);
}

export const string = (o?: SpecOptions) => primitive('string', o);
export const code = (o?: SpecOptions) => primitive('code', o);
export const uri = (o?: SpecOptions) => primitive('uri', o);
export const boolean = (o?: SpecOptions) => primitive('boolean', o);
export const integer = (o?: SpecOptions) => primitive('integer', o);
export const dateTime = (o?: SpecOptions) => primitive('dateTime', o);

type ComplexValue<K extends ComplexParamType> = K extends 'Reference' ? Reference
  : K extends 'Identifier' ? Identifier : K extends 'Coding' ? Coding : K extends 'CodeableConcept' ? CodeableConcept
  : K extends 'Quantity' ? Quantity : Period;

export function complex<K extends ComplexParamType>(type: K, options: SpecOptions = {}): ParamSpec<ComplexValue<K>, 'one'> {
  return spec('complex', type, options);
}

/** A required Reference to one of `targets` (any type when none given). */
export function ref<R extends Resource = Resource>(...targets: R['resourceType'][]): ParamSpec<Reference<R>, 'one'> {
  return spec('complex', 'Reference', targets.length ? { targets } : {});
}

/** A repeating Reference (0..*): `refs('MedicationRequest', 'ServiceRequest')`. */
export function refs<R extends Resource = Resource>(...targets: R['resourceType'][]): ParamSpec<Reference<R>, 'many'> {
  return many(ref<R>(...targets));
}

/** A required resource parameter; `resource()` takes any resource type. */
export function resource<R extends Resource = Resource>(type?: R['resourceType'], options: SpecOptions = {}): ParamSpec<R, 'one'> {
  return spec('resource', type ?? 'Resource', options);
}

/** A parameter made of named parts (Parameters.parameter.part), e.g. a payment with channel and outTradeNo. */
export function parts<P extends ParamShape>(shape: P, options: SpecOptions = {}): ParamSpec<ParamValues<P>, 'one'> {
  return spec('parts', 'Element', { ...options, parts: shape });
}

export function optional<T>(s: ParamSpec<T, Cardinality>): ParamSpec<T, 'optional'> {
  return { ...s, min: 0, max: 1 } as ParamSpec<T, 'optional'>;
}

/** Repeating: `min` values at least (0 by default), no upper bound unless `max` says so. */
export function many<T>(s: ParamSpec<T, Cardinality>, bounds: { min?: number; max?: number } = {}): ParamSpec<T, 'many'> {
  return { ...s, min: bounds.min ?? 0, max: bounds.max ?? '*' } as ParamSpec<T, 'many'>;
}

/** Who invoked an operation, as workflow operations need to know it (absent fields: not that kind of caller). */
export interface OperationCaller {
  /** patient | doctor | operator | engineer | admin; `system` when no security is in front of the store. */
  role: string;
  /** The audit trail's name for the caller. */
  reference: string;
  /** Patient role: `Patient/<id>`, whose compartment is theirs. */
  patient?: string;
  /** Doctor role: `Practitioner/<id>`. */
  practitioner?: string;
  /** Patient role signed in through the mini program: the WeChat account (see auth/principal.ts WechatAccount). */
  wechat?: { appid: string; openid: string; unionid?: string };
}

/**
 * A repository that can hand out the store itself in the same transaction. Workflow operations read what the caller
 * names through the caller's repository (so a patient's $checkout sees only their own bills) and then write the
 * workflow's records (Invoice, PaymentNotice, Task) elevated: a patient may not write an Invoice, but paying may.
 */
export interface ElevatableRepository extends Repository {
  elevated(): Repository;
  caller(): OperationCaller;
}

export function isElevatable(repo: Repository): repo is ElevatableRepository {
  return typeof (repo as Partial<ElevatableRepository>).elevated === 'function';
}

export interface OperationContext {
  correlationId?: string;
  /** The store in the operation's transaction without the caller's restrictions; the caller's repository when unguarded. */
  elevated: Repository;
  caller: OperationCaller;
  /** Absolute FHIR base, for building references and links. */
  baseUrl: string;
  /** Type and instance level: the resource type in the URL. */
  resourceType?: ResourceType;
  /** Instance level: the id in the URL. */
  id?: string;
}

export interface OperationDeclaration<I extends ParamShape, O extends ParamShape> {
  /** Without `$`, e.g. `checkout`. */
  name: string;
  level: OperationLevel;
  /** Type/instance level: the one resource type it applies to; absent = every resource type. */
  resourceType?: ResourceType;
  /** false: reads only; then GET is allowed too when every input is a primitive or Reference. Default true. */
  affectsState?: boolean;
  description?: string;
  /** Canonical URL; defaults to `<base>/OperationDefinition/<name>`. Standard operations give HL7's. */
  url?: string;
  /**
   * 'whole' (default): `run` is one repository transaction. 'own': `run` is called outside one and opens its own
   * (`context.elevated.transaction(…)`) around its writes — for operations that wait on a foreign system while the
   * caller waits (a booking platform), so that the wait holds no database connection (SQLite has only one).
   */
  transaction?: 'whole' | 'own';
  parameters: I;
  output: O;
  run(repo: Repository, params: ParamValues<I>, context: OperationContext): Promise<OutputValues<O>>;
}

export interface Operation<I extends ParamShape = ParamShape, O extends ParamShape = ParamShape> extends OperationDeclaration<I, O> {
  readonly affectsState: boolean;
  definition(baseUrl: string): OperationDefinition;
}

export function operation<I extends ParamShape, O extends ParamShape>(declaration: OperationDeclaration<I, O>): Operation<I, O> {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(declaration.name)) throw new Error(`Invalid operation name "${declaration.name}"`);
  if (declaration.level === 'system' && declaration.resourceType) {
    throw new Error(`System-level operation $${declaration.name} cannot name a resource type`);
  }
  const affectsState = declaration.affectsState ?? true;
  return { ...declaration, affectsState, definition: (baseUrl) => operationDefinitionOf({ ...declaration, affectsState }, baseUrl) };
}

/** A Reference or primitive: what a GET query string can carry. */
export function isSimple(s: ParamSpec): boolean {
  return s.kind === 'primitive' || (s.kind === 'complex' && s.type === 'Reference');
}

export function getAllowed(op: Pick<Operation, 'affectsState' | 'parameters'>): boolean {
  return !op.affectsState && Object.values(op.parameters).every(isSimple);
}

function definitionParameters(shape: ParamShape, use: 'in' | 'out'): OperationDefinitionParameter[] {
  return Object.entries(shape).map(([name, s]) => ({
    name,
    use,
    min: s.min,
    max: String(s.max),
    ...(s.documentation ? { documentation: s.documentation } : {}),
    ...(s.kind === 'parts' ? { part: definitionParameters(s.parts ?? {}, use) } : { type: s.type as OperationDefinitionParameter['type'] }),
    ...(s.targets ? { targetProfile: s.targets.map((t) => `http://hl7.org/fhir/StructureDefinition/${t}`) } : {}),
  }));
}

function operationDefinitionOf(d: OperationDeclaration<ParamShape, ParamShape> & { affectsState: boolean }, baseUrl: string): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: d.name,
    url: d.url ?? `${baseUrl}/OperationDefinition/${d.name}`,
    name: d.name,
    title: `$${d.name}`,
    status: 'active',
    kind: 'operation',
    ...(d.description ? { description: d.description } : {}),
    affectsState: d.affectsState,
    code: d.name,
    ...(d.resourceType ? { resource: [d.resourceType] } : d.level === 'system' ? {} : { resource: ['Resource' as ResourceType] }),
    system: d.level === 'system',
    type: d.level === 'type',
    instance: d.level === 'instance',
    parameter: [...definitionParameters(d.parameters, 'in'), ...definitionParameters(d.output, 'out')],
  };
}
