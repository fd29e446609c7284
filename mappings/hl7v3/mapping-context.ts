/** What a v3 mapping needs to know beyond the message: configuration, never looked up at run time. */
export interface InboundContext {
  /**
   * Root OID of the hospital platform's EMPI (主索引) patient id. The patient id item under this root becomes the
   * patient's primary identifier; other patient ids keep their own roots as secondary identifiers. Set per site:
   * where the HIS 病人ID is the master index it is 2.16.156.10011.2.5.1.4.
   */
  empiRoot: string;
}

export interface OutboundContext extends InboundContext {
  /** id@extension of the message being built; the caller makes it (a UUID) so the mapping stays deterministic. */
  messageId: string;
  /** creationTime, a FHIR instant; written in China time. */
  creationTime: string;
  /** Our device id (sender) and the peer's (receiver), under 2.16.156.10011.2.5.1.3. */
  senderDevice: string;
  receiverDevice: string;
}
