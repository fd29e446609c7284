import { parseSearchRequest } from '@medplum/core';
import type { Organization, Task } from '@medplum/fhirtypes';
import type { Repository } from '../../fhir-resources/store/repository';

const PAGE = 100;

/**
 * The circulation Tasks a scheduled run looks at (the platform and pharmacy polls, the expiry run), page by page
 * through the store's cursor, each with the Organization that owns it — read once per run, however many Tasks it has.
 */
export async function* tasksInFlight(repo: Repository, inFlight: Record<string, string>): AsyncGenerator<{ task: Task; owner?: Organization }> {
  const owners = new Map<string, Organization | undefined>();
  let cursor: string | undefined;
  do {
    const page = await repo.search({ ...parseSearchRequest('Task', { ...inFlight, _count: String(PAGE) }), ...(cursor ? { cursor } : {}) });
    for (const task of page.resources as Task[]) {
      const ref = task.owner?.reference ?? '';
      if (!owners.has(ref)) {
        const [type, id] = ref.split('/');
        owners.set(ref, type === 'Organization' && id ? await repo.read<Organization>('Organization', id).catch(() => undefined) : undefined);
      }
      yield { task, owner: owners.get(ref) };
    }
    cursor = page.next;
  } while (cursor);
}
