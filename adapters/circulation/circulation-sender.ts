import type { Task } from '@medplum/fhirtypes';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import type { CirculationOrder } from '../../mappings/circulation/circulation-order';
import type { PharmacyOrder } from '../../mappings/circulation/pharmacy-order';
import type { PlatformUpload } from '../../mappings/circulation/platform-upload';
import type { CirculationEvent } from '../../mappings/circulation/circulation-transitions';
import type { Repository } from '../../fhir-resources/store/repository';
import type { CirculationTaskWriter } from './circulation-task-writer';
import { PharmacyClient, PharmacyRefusal } from './pharmacy-client';
import { PlatformRefusal, PrescriptionPlatformClient } from './prescription-platform-client';

export interface CirculationPeers {
  platform?: () => PrescriptionPlatformClient;
  /** Pharmacy code → its API client (third-party pharmacies). */
  pharmacies: Record<string, () => PharmacyClient>;
}

export interface CirculationSenderOptions {
  repository: () => Repository;
  writer: CirculationTaskWriter;
  peers: CirculationPeers;
  /** The platform's numbers for a prescription recorded by an earlier attempt (Task.output), read by the channel's mapping. */
  recorded: (task: Task, rxNo: string) => { hiRxno?: string; rxTraceCode?: string };
  /** Is this prescription of the Task still to be sent (not cancelled, nothing recorded for it yet)? */
  waiting: (task: Task, rxNo: string) => boolean;
}

const now = () => new Date().toISOString();

type Outcome = { event: CirculationEvent; steps: string[] };

/**
 * The circulation channel's destination: sends each prescription of a Task to the platform (预核验 → 签名 → 上传) or to
 * a pharmacy's API, or undoes them, and records each outcome on the Task through the writer. The Task is read again
 * first: a prescription already sent is not sent twice, nothing is sent for a Task cancelled meanwhile. A refusal by
 * the peer is an outcome (recorded on the Task, message sent); a transport failure or 5xx is thrown and retried by
 * the queue, the prescriptions recorded so far being skipped by the retry.
 */
export function circulationSender(o: CirculationSenderOptions): DestinationConnector {
  const clients = new Map<string, PrescriptionPlatformClient | PharmacyClient>();
  const platform = (): PrescriptionPlatformClient => {
    if (!o.peers.platform) throw new Error('no 处方流转平台 configured (hospital.channels.prescriptionCirculation.platform)');
    if (!clients.has('platform')) clients.set('platform', o.peers.platform());
    return clients.get('platform') as PrescriptionPlatformClient;
  };
  const pharmacy = (code: string): PharmacyClient => {
    const make = o.peers.pharmacies[code];
    if (!make) throw new Error(`pharmacy ${code} has no API configured`);
    if (!clients.has(code)) clients.set(code, make());
    return clients.get(code) as PharmacyClient;
  };

  async function upload(task: Task, rxNo: string, content: PlatformUpload, ref: string, correlationId: string): Promise<Outcome> {
    try {
      const done = await platform().upload(content.check, content.rxFile, o.recorded(task, rxNo), async (n) => {
        await o.writer.apply({ task: ref, event: { kind: 'checked', rxNo, at: now(), numbers: { 'hi-rxno': n.hiRxno, 'rx-trace-code': n.rxTraceCode } } }, correlationId);
      });
      return { event: { kind: 'circulated', rxNo, at: now(), numbers: { 'hi-rxno': done.hiRxno, 'rx-trace-code': done.rxTraceCode } }, steps: done.steps };
    } catch (err) {
      if (err instanceof PlatformRefusal) return { event: { kind: 'refused', rxNo, at: now(), note: err.message }, steps: [`refused: ${err.message}`] };
      throw err;
    }
  }

  async function submit(code: string, rxNo: string, order: PharmacyOrder): Promise<Outcome> {
    try {
      const view = await pharmacy(code).submit(order);
      const steps = [`POST /prescriptions ${rxNo}: ${view.orderId ?? ''} ${view.status ?? ''}`.trim()];
      if (view.status === 'cancelled') return { event: { kind: 'refused', rxNo, at: now(), note: `药房 ${code} 已有处方 ${rxNo} 且已取消` }, steps };
      return { event: { kind: 'circulated', rxNo, at: now(), numbers: view.orderId ? { 'pharmacy-order-id': view.orderId } : {} }, steps };
    } catch (err) {
      if (err instanceof PharmacyRefusal) return { event: { kind: 'refused', rxNo, at: now(), note: err.message }, steps: [`refused: ${err.message}`] };
      throw err;
    }
  }

  async function undo(order: Extract<CirculationOrder, { action: 'undo' }>, task: Task, rxNo: string): Promise<Outcome> {
    try {
      if (order.via === 'platform') {
        const { hiRxno } = o.recorded(task, rxNo);
        if (!hiRxno) return { event: { kind: 'cancelled', rxNo, at: now(), note: `处方 ${rxNo} 未上传至流转平台，无需撤销` }, steps: [`${rxNo} not uploaded: nothing to undo`] };
        const out = await platform().call('rxUndo', { hi_rxno: hiRxno, undo_rea: order.reason });
        return { event: { kind: 'cancelled', rxNo, at: now() }, steps: [`rxUndo ${hiRxno}: ${String(out.rx_stas_name ?? 'ok')}`] };
      }
      const view = await pharmacy(order.pharmacy).cancel(rxNo, order.reason);
      return { event: { kind: 'cancelled', rxNo, at: now() }, steps: [`cancel ${rxNo}: ${view.status ?? 'ok'}`] };
    } catch (err) {
      if (err instanceof PharmacyRefusal && err.status === 404) return { event: { kind: 'cancelled', rxNo, at: now(), note: `药房未收到处方 ${rxNo}，无需撤销` }, steps: [`cancel ${rxNo}: ${err.message}`] };
      if (err instanceof PlatformRefusal || err instanceof PharmacyRefusal) return { event: { kind: 'cancel-refused', rxNo, at: now(), note: err.reason }, steps: [`refused: ${err.message}`] };
      throw err;
    }
  }

  /** One prescription's outcome, recorded on the Task before the next is sent (so a retry resumes where this stopped). */
  async function each(ref: string, rxNos: string[], act: (rxNo: string) => Promise<Outcome | undefined>, correlationId: string): Promise<string[]> {
    const lines: string[] = [];
    for (const rxNo of rxNos) {
      const outcome = await act(rxNo);
      if (!outcome) {
        lines.push(`${rxNo}: not sent (already at the peer, or the Task is cancelled)`);
        continue;
      }
      lines.push(...outcome.steps, await o.writer.apply({ task: ref, event: outcome.event }, correlationId));
    }
    return lines;
  }

  return {
    type: 'prescription-circulation',
    async send(message: OutboundMessage) {
      const order = JSON.parse(message.content) as CirculationOrder;
      const [, id] = order.task.split('/');
      const task = await o.repository().read<Task>('Task', id);
      let lines: string[];
      if (order.action === 'undo') {
        lines = await each(order.task, order.rxNos, (rxNo) => undo(order, task, rxNo), message.correlationId);
      } else if (order.via === 'platform') {
        const byNo = new Map(order.prescriptions.map((p) => [p.rxNo, p.upload]));
        lines = await each(order.task, [...byNo.keys()], async (rxNo) => (o.waiting(task, rxNo) ? upload(task, rxNo, byNo.get(rxNo)!, order.task, message.correlationId) : undefined), message.correlationId);
      } else {
        const byNo = new Map(order.prescriptions.map((p) => [p.rxNo, p.order]));
        lines = await each(order.task, [...byNo.keys()], async (rxNo) => (o.waiting(task, rxNo) ? submit(order.pharmacy, rxNo, byNo.get(rxNo)!) : undefined), message.correlationId);
      }
      return { response: lines.join('\n') };
    },
    async stop() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
