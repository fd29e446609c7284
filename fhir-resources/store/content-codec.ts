import type { Resource } from '@medplum/fhirtypes';

/**
 * How a resource is written to and read from the `content` columns. The default is plain JSON; the privacy module
 * supplies one that encrypts ID numbers, phones and addresses (fhir-resources/privacy), so every reader of stored
 * content (read, vread, history, search, _include) decodes through the same object.
 */
export interface ContentCodec {
  encode(resource: Resource): string;
  decode(content: string): Resource;
}

export const plainJsonContent: ContentCodec = {
  encode: (resource) => JSON.stringify(resource),
  decode: (content) => JSON.parse(content) as Resource,
};
