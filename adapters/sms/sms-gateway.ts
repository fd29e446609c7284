import type { IncomingHttpHeaders } from 'node:http';

/** What a gateway reports later about one SMS: handed to the handset, or given up. */
export interface DeliveryReceipt {
  gatewayMessageId: string;
  status: 'delivered' | 'failed';
  /** The carrier's or gateway's code (DELIVRD, UNDELIV, MK:0001 …), kept for support calls. */
  code?: string;
  at: number;
}

/**
 * An SMS gateway (Aliyun, Tencent Cloud, the carriers' 云MAS, a hospital's own platform). Chinese gateways only send
 * pre-approved templates (模板) under an approved signature (签名), so a message is a template id and its params,
 * never free text.
 */
export interface SmsGateway {
  /**
   * Submits one SMS and resolves to the gateway's message id. `clientMessageId` goes to the gateway as its
   * caller-side id (OutId / extend), so that a repeat after a crash can be recognised on the gateway side too.
   */
  send(templateId: string, params: Record<string, string>, phone: string, clientMessageId: string): Promise<string>;
  /** Verifies and reads a receipt callback; throws when its signature does not verify. */
  parseReceipts(body: Buffer, headers: IncomingHttpHeaders): DeliveryReceipt[];
  close?(): Promise<void>;
}

/** 13812345678 → 138****5678: enough for a person to match a complaint call, not enough to be a phone number. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7) return '*'.repeat(digits.length);
  return `${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}`;
}
