import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository';
import { stateConflict } from '../workflow-outcomes';

const ATTEMPTS = 5;

/**
 * Changes a resource under optimistic locking: read it, let `change` decide on what it now is (undefined: nothing to
 * do), write with If-Match. When someone else wrote in between (412, or 409 from the store's compare-and-set), the
 * decision is taken again on what they wrote. The store locks the row it writes until the transaction ends, so of two
 * operators approving one Task at once the second waits, then sees the first's change and decides on that.
 */
export async function changeVersioned<T extends Resource>(
  repo: Repository, type: T['resourceType'], id: string, change: (current: T) => T | undefined,
): Promise<{ resource: T; changed: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const current = await repo.read<T>(type, id);
    const next = change(current);
    if (!next) return { resource: current, changed: false };
    try {
      const written = await repo.update<T>(next, { ifMatch: current.meta?.versionId });
      return { resource: written.resource, changed: true };
    } catch (err) {
      const lost = err instanceof OperationOutcomeError && [409, 412].includes(getStatus(err.outcome));
      if (!lost) throw err;
      if (attempt >= ATTEMPTS) throw stateConflict(`${type}/${id} 正被其他操作同时修改，请稍后重试`);
    }
  }
}
