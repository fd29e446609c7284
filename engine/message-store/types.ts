/**
 * What the message store keeps of every message a channel receives: the raw content as received, and one stage row
 * per step (source, transformer, each destination) with its status, content, response, error and attempt count.
 */
export type MessageStatus = 'received' | 'filtered' | 'transformed' | 'queued' | 'sent' | 'error';

/**
 * pending: written, not yet confirmed on the bus · queued: on the bus, waiting or retrying · sent: delivered ·
 * filtered: a filter dropped it · transformed: transformer output recorded · error: failed for good (dead letter).
 */
export type StageStatus = 'received' | 'pending' | 'queued' | 'sent' | 'filtered' | 'transformed' | 'error';

export interface StageRecord {
  /** 'source', 'transformer', or the destination's name. */
  name: string;
  kind: 'source' | 'transformer' | 'destination';
  status: StageStatus;
  content?: string | null;
  response?: string | null;
  error?: string | null;
  attempts: number;
  updatedAt: number;
}

export interface AttemptError {
  stage: string;
  attempt: number;
  error: string;
  at: number;
}

export interface NewMessage {
  /** UUIDv7: time-ordered, so the primary key index stays append-only. */
  id: string;
  channelId: string;
  correlationId: string;
  status: MessageStatus;
  contentType: string;
  /** Charset the sender used (content is stored decoded as text; 'base64' for binary bodies). */
  encoding: string;
  raw: string;
  /** Epoch ms. */
  receivedAt: number;
  reprocessedFrom?: string | null;
  stages: StageRecord[];
}

export interface StoredMessage extends NewMessage {
  updatedAt: number;
  /** True once the pruning policy removed the content (raw and stage contents) and kept the metadata. */
  contentPruned: boolean;
  errors: AttemptError[];
}

export type MessageSummary = Omit<StoredMessage, 'raw' | 'stages' | 'errors'> & { size: number };

export interface StageUpdate {
  messageId: string;
  stage: string;
  status: StageStatus;
  content?: string | null;
  response?: string | null;
  error?: string | null;
  attempts?: number;
  /**
   * The message has no other destination stage, so its status follows this stage's alone: the store sets it
   * without aggregating the message's stages. The engine knows this when it stores the message (the envelope
   * carries the count); anyone else leaves it unset.
   */
  soleDestination?: boolean;
}

export interface MessageQuery {
  channel?: string;
  status?: MessageStatus;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  correlationId?: string;
  /** Substring of the raw content (case-sensitive on SQLite/PostgreSQL, collation-dependent on MySQL). */
  q?: string;
  limit?: number;
  /** Opaque cursor from a previous page: newest first, stable while new messages arrive. */
  cursor?: string;
}

export interface PendingStage {
  messageId: string;
  channelId: string;
  correlationId: string;
  stage: string;
  content: string | null;
  receivedAt: number;
}

export interface PrunePolicy {
  channelId: string;
  /** Remove raw and stage content of messages older than this many days (metadata stays). */
  contentDays?: number;
  /** Remove the messages entirely after this many days. */
  metadataDays?: number;
}

export interface PruneResult {
  contentPruned: number;
  messagesDeleted: number;
}

export interface ChannelCounts {
  channelId: string;
  received: number;
  filtered: number;
  queued: number;
  sent: number;
  error: number;
}

export interface MessageStore {
  migrate(): Promise<void>;
  /** Durable when the promise resolves (concurrent calls are group-committed in one transaction). */
  insert(message: NewMessage): Promise<void>;
  /** Durable when the promise resolves (batched); also recomputes the message's overall status. */
  updateStage(update: StageUpdate): Promise<void>;
  /**
   * pending → queued for stages the bus confirmed (batched). Only rows still 'pending' change: a destination may have
   * delivered (and marked 'sent') before this lands, and that must not be undone.
   */
  markQueued(stages: { messageId: string; stage: string }[]): Promise<void>;
  recordAttemptError(messageId: string, error: AttemptError): Promise<void>;
  get(id: string): Promise<StoredMessage | undefined>;
  stageStatus(messageId: string, stage: string): Promise<StageStatus | undefined>;
  search(query: MessageQuery): Promise<{ messages: MessageSummary[]; next?: string }>;
  /** Destination stages written but never confirmed on the bus (crash between commit and publish), oldest first. */
  pendingStages(limit: number, olderThan?: number): Promise<PendingStage[]>;
  counts(): Promise<ChannelCounts[]>;
  prune(policies: PrunePolicy[], now?: number): Promise<PruneResult>;
  close(): Promise<void>;
}
