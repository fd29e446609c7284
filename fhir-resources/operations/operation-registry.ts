import type { ResourceType } from '@medplum/fhirtypes';
import type { Operation, OperationLevel } from './operation';

/** The operations one server offers, by name; a name is declared once (one OperationDefinition per name). */
export class OperationRegistry {
  private readonly byName = new Map<string, Operation>();

  constructor(operations: readonly Operation[] = []) {
    for (const op of operations) {
      if (this.byName.has(op.name)) throw new Error(`Operation $${op.name} is declared twice`);
      this.byName.set(op.name, op);
    }
  }

  get(name: string): Operation | undefined {
    return this.byName.get(name);
  }

  all(): Operation[] {
    return [...this.byName.values()];
  }

  /** Whether `op` is invoked at this level and on this resource type. */
  static applies(op: Operation, level: OperationLevel, resourceType?: ResourceType): boolean {
    return op.level === level && (level === 'system' || !op.resourceType || op.resourceType === resourceType);
  }
}
