import type { Organization, Task } from '@medplum/fhirtypes';
import { circulationSender } from '../adapters/circulation/circulation-sender';
import { CirculationTaskWriter, circulationTaskDestination, isCirculationWrite, type TaskEventWrite } from '../adapters/circulation/circulation-task-writer';
import { PharmacyClient } from '../adapters/circulation/pharmacy-client';
import { pharmacyCallbackSource, type PharmacyCallbackMessage } from '../adapters/circulation/pharmacy-callback-source';
import { pharmacyKey } from '../adapters/circulation/pharmacy-signature';
import { circulationExpiry, overdueCirculations } from '../adapters/circulation/circulation-expiry';
import { pharmacyStatusPoller } from '../adapters/circulation/pharmacy-status-poller';
import { platformStatusPoller } from '../adapters/circulation/platform-status-poller';
import { PrescriptionPlatformClient } from '../adapters/circulation/prescription-platform-client';
import type { FhirEventMessage } from '../adapters/fhir/fhir-events-source';
import { fhirEventsSource } from '../adapters/fhir/fhir-events-source';
import { withSeededResources } from '../adapters/fhir/seeded-resources';
import { channel, type ChannelDefinition, type ChannelMessage, type Filter } from '../engine/channel/channel';
import { PRESCRIPTION_NO_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM } from '../fhir-resources/billing/billing-vocabulary';
import { requestExpiryRefund } from '../fhir-resources/operations/refund/expiry-refund';
import { circulationOrder, pharmacyCodeOf, type CirculationOrder, type PharmacyRoute } from '../mappings/circulation/circulation-order';
import { applyCirculationEvent, circulatedNumbers, prescriptionState, taskOutput } from '../mappings/circulation/circulation-transitions';
import {
  pharmacyCallbackEvent, pharmacyStatusEvent, platformStatusEvent, type PharmacyCallback, type PharmacyStatus, type PlatformStatus,
} from '../mappings/circulation/peer-reports';
import { pharmacyOrganizations } from '../mappings/circulation/pharmacy-organizations';
import type { ChannelDeps } from './channel-deps';
import { paymentSetup } from './payment-setup';

const eventOf = (message: ChannelMessage): FhirEventMessage => JSON.parse(message.content) as FhirEventMessage;

/**
 * A paid prescription must reach its pharmacy and its news must reach the Task, however long a peer or the store is
 * away: retries stretch to about a day (2 s doubling to 10 min) before a message waits in the dead-letter queue.
 */
const PERSISTENT = { maxAttempts: 150, initialDelayMs: 2000, maxDelayMs: 600_000 };

/** Where the circulation's Tasks wait on a peer; failed: another prescription of the Task was refused, this one may be out. */
const IN_FLIGHT = { code: `${TASK_CODE_SYSTEM}|${TASK_CODE.circulation}`, status: 'in-progress,failed' };

/** The expiry's writes cancel the Task for the outbound channel to act on, so they are not the circulation channels' own. */
const EXPIRY_WRITE = 'circulation-expiry:';

const DAY_MS = 86_400_000;

const circulationTask: Filter = {
  name: 'circulation-task',
  accept: (m) => {
    const task = eventOf(m).resource as Task | undefined;
    return task?.resourceType === 'Task' && task.code?.coding?.some((c) => c.system === TASK_CODE_SYSTEM && c.code === TASK_CODE.circulation) === true;
  },
};

/** Without a pharmacy the drugs are handed over at the hospital's own counter ($redeem): nothing to circulate. */
const toAPharmacy: Filter = { name: 'to-a-pharmacy', accept: (m) => Boolean((eventOf(m).resource as Task).owner?.reference) };

/** A new Task asks for circulation; a Task the refund workflow cancelled asks for the undo. Our own updates ask nothing. */
const asksForAction: Filter = {
  name: 'new-or-cancelled',
  accept: (m) => {
    const { event, resource } = eventOf(m);
    const task = resource as Task;
    if (isCirculationWrite(event.correlationId)) return false;
    return (event.action === 'create' && task.status === 'requested') || (event.action === 'update' && task.status === 'cancelled');
  },
};

/**
 * 处方流转 (issue 6): after payment the workflow creates a circulation Task (fhir-resources/billing/README.md); this
 * channel sends its prescription to the platform (the campus pharmacies) or to the chosen pharmacy's API, records
 * the answer on the Task, and undoes it when the Task is cancelled. The configured pharmacies are written as
 * Organizations at start; news comes back through pharmacy-callback and prescription-platform-status.
 */
export function prescriptionCirculation(deps: ChannelDeps): ChannelDefinition[] {
  const { hospital, fhir, bus, db } = deps;
  const settings = hospital.channels.prescriptionCirculation;
  const routes: Record<string, PharmacyRoute> = Object.fromEntries(Object.entries(settings.pharmacies).map(([code, p]) => [code, p.via]));
  const apis = Object.entries(settings.pharmacies).flatMap(([code, p]) => (p.via === 'api' ? [{ code, ...p, keyOf: () => pharmacyKey(p, `pharmacy ${code}`) }] : []));
  const platform = { url: settings.platform.url, fixmedinsCode: settings.platform.fixmedinsCode, timeoutMs: settings.timeoutMs };
  const writer = new CirculationTaskWriter({
    repository: fhir,
    transition: applyCirculationEvent,
    owns: (owner: Organization | undefined, appId: string) => apis.some((a) => a.code === pharmacyCodeOf(owner) && a.appId === appId),
  });

  const out = channel({
    id: 'prescription-circulation',
    description: '处方流转: circulation Tasks to the 处方流转平台 (uploadChk → sign → upload) or a pharmacy API; undo on cancel',
    source: withSeededResources(
      fhirEventsSource(bus, db, fhir, { events: ['Task.create', 'Task.update'], references: ['focus', 'basedOn', 'for', 'owner', 'encounter'] }),
      fhir, () => pharmacyOrganizations(settings.pharmacies),
    ),
    filters: [circulationTask, toAPharmacy, asksForAction],
    transformer: (m) => {
      const { resource, referenced } = eventOf(m);
      return circulationOrder({ task: resource as Task, referenced: referenced ?? {}, routes, validDays: settings.platform.validDays });
    },
    destinations: [{
      name: 'peer',
      connector: circulationSender({
        repository: fhir,
        writer,
        peers: {
          platform: () => new PrescriptionPlatformClient(platform),
          pharmacies: Object.fromEntries(apis.map((a) => [a.code, () => new PharmacyClient({ url: a.url, appId: a.appId, key: a.keyOf(), timeoutMs: settings.timeoutMs })])),
        },
        recorded: (task, rxNo) => ({ hiRxno: taskOutput(task, 'hi-rxno', rxNo), rxTraceCode: taskOutput(task, 'rx-trace-code', rxNo) }),
        waiting: (task, rxNo) => task.status !== 'cancelled' && prescriptionState(task, rxNo) === 'pending-review',
      }),
      queue: PERSISTENT,
      // A Task's upload and its undo go out in that order, whatever the retries.
      orderBy: (m) => (JSON.parse(m.content) as CirculationOrder).task,
    }],
  });

  const keys: Record<string, string[]> = {};
  for (const a of apis) (keys[a.appId] ??= []).push(a.keyOf());
  const callbacks = channel({
    id: 'pharmacy-callback',
    description: 'Pharmacy callbacks (accept, reject, 备药完成, 核销 with 追溯码), signature checked, into the circulation Task and MedicationDispense',
    source: pharmacyCallbackSource({ keys }),
    transformer: (m): TaskEventWrite => {
      const { appId, callback } = JSON.parse(m.content) as PharmacyCallbackMessage;
      const c = callback as PharmacyCallback;
      return { rxNo: c?.rxNo, appId, event: pharmacyCallbackEvent(c) };
    },
    destinations: [{ name: 'task', connector: circulationTaskDestination(writer), queue: PERSISTENT, orderBy: (m) => (JSON.parse(m.content) as TaskEventWrite).rxNo }],
  });

  const expiry = channel({
    id: 'prescription-circulation-expiry',
    description: '处方流转: prescriptions not picked up within their validity → expired, undone at the peer, refund requested (awaits approval)',
    source: overdueCirculations({
      cron: settings.expiryCron,
      repository: fhir,
      inFlight: { ...IN_FLIGHT, status: 'in-progress' },
      overdue: (task, prescriptions, owner, now) => {
        const days = routes[pharmacyCodeOf(owner) ?? ''] === 'platform' ? settings.platform.validDays : settings.pharmacyValidDays;
        return circulatedNumbers(task).filter((rxNo) => {
          if (!['circulated', 'approved', 'awaiting-pickup'].includes(prescriptionState(task, rxNo))) return false;
          // Validity runs from 开方时间, as the platform counts it (platform-upload.ts); the payment's time without one.
          const written = prescriptions.filter((r) => r.groupIdentifier?.system === PRESCRIPTION_NO_SYSTEM && r.groupIdentifier.value === rxNo)
            .map((r) => r.authoredOn).filter((t): t is string => Boolean(t)).sort()[0] ?? task.authoredOn;
          return Boolean(written) && Date.parse(written!) + days * DAY_MS < now;
        });
      },
    }),
    destinations: [{
      name: 'task',
      connector: circulationExpiry({
        repository: fhir,
        writer,
        prefix: EXPIRY_WRITE,
        expiredOf: (task, rxNos) => rxNos.filter((rxNo) => prescriptionState(task, rxNo) === 'expired'),
        refund: (repo, task, rxNos) => requestExpiryRefund(repo, { gateways: paymentSetup(hospital).gateways }, task, rxNos),
      }),
      queue: PERSISTENT,
      orderBy: (m) => (JSON.parse(m.content) as { task: string }).task,
    }],
  });
  const channels = [out, callbacks, expiry];

  if (apis.length) {
    channels.push(channel({
      id: 'pharmacy-status',
      description: 'Pharmacy order status (GET /prescriptions/<rxNo>), polled for the Tasks in flight: makes up lost callbacks',
      source: pharmacyStatusPoller({
        cron: settings.pharmacyPollCron,
        repository: fhir,
        pharmacies: Object.fromEntries(apis.map((a) => [a.code, () => ({ url: a.url, appId: a.appId, key: a.keyOf(), timeoutMs: settings.timeoutMs })])),
        inFlight: IN_FLIGHT,
        pharmacyOf: (owner) => { const code = pharmacyCodeOf(owner); return code && routes[code] === 'api' ? code : undefined; },
        waitingAtPharmacy: (task) => circulatedNumbers(task).filter((rxNo) => ['circulated', 'approved', 'awaiting-pickup', 'delivering'].includes(prescriptionState(task, rxNo))),
        isNews: (task, status) => {
          const event = pharmacyStatusEvent(status);
          return Boolean(event && applyCirculationEvent(task, event, []).task);
        },
      }),
      transformer: (m): TaskEventWrite => {
        const status = JSON.parse(m.content) as PharmacyStatus;
        const event = pharmacyStatusEvent(status);
        if (!event) throw new Error(`${status.task}: the pharmacy's answer reports nothing new`);
        return { task: status.task, event };
      },
      destinations: [{ name: 'task', connector: circulationTaskDestination(writer), queue: PERSISTENT, orderBy: (m) => (JSON.parse(m.content) as TaskEventWrite).task }],
    }));
  }

  const viaPlatform = Object.values(routes).includes('platform');
  if (!viaPlatform) return channels;
  const polls = channel({
    id: 'prescription-platform-status',
    description: '处方流转平台 审方 (rxChkInfoQuery) and 取药 (rxSetlInfoQuery), polled for the Tasks in flight',
    source: platformStatusPoller({
      cron: settings.platform.pollCron,
      repository: fhir,
      platform,
      // failed: another prescription of the Task was refused, this one may still be at the platform.
      inFlight: IN_FLIGHT,
      waitingAtPlatform: (task) => circulatedNumbers(task)
        .filter((rxNo) => ['circulated', 'approved', 'awaiting-pickup'].includes(prescriptionState(task, rxNo)))
        .flatMap((rxNo) => { const hiRxno = taskOutput(task, 'hi-rxno', rxNo); return hiRxno ? [{ rxNo, hiRxno }] : []; }),
      isNews: (task, status) => {
        const event = platformStatusEvent(status);
        return Boolean(event && applyCirculationEvent(task, event, []).task);
      },
    }),
    transformer: (m): TaskEventWrite => {
      const status = JSON.parse(m.content) as PlatformStatus;
      const event = platformStatusEvent(status);
      if (!event) throw new Error(`${status.task}: the platform's answer reports nothing new`);
      return { task: status.task, event };
    },
    destinations: [{ name: 'task', connector: circulationTaskDestination(writer), queue: PERSISTENT, orderBy: (m) => (JSON.parse(m.content) as TaskEventWrite).task }],
  });
  return [...channels, polls];
}
