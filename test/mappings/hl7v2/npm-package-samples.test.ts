import { hl7v2ToBundle, parseHl7Batch } from '../../../mappings/hl7v2';
import { writeProblems } from './hl7v2-fixtures';
import { hl7SampleFiles, SAMPLE_PACKAGES, type SampleFile } from './npm-package-samples';

let samples: SampleFile[] = [];

beforeAll(() => {
  samples = SAMPLE_PACKAGES.flatMap((spec) => hl7SampleFiles(spec));
}, 300_000);

function messagesOfType(code: string): Array<{ name: string; index: number; message: ReturnType<typeof parseHl7Batch>[number] }> {
  return samples.flatMap((s) =>
    parseHl7Batch(s.text)
      .map((message, index) => ({ name: s.name, index, message }))
      .filter(({ message }) => message.segments[0]?.get(9, 1) === code),
  );
}

describe('HL7 v2 samples shipped in npm packages', () => {
  it('finds samples in every package', () => {
    for (const spec of SAMPLE_PACKAGES) expect(samples.filter((s) => s.name.startsWith(spec)).length).toBeGreaterThan(0);
  });

  it('parses every sample without a problem', () => {
    const problems = samples.flatMap((s) => {
      const messages = parseHl7Batch(s.text);
      if (messages.length === 0) return [`${s.name}: no message`];
      return messages.flatMap((m, i) => m.problems.map((p) => `${s.name} #${i + 1} ${p.expression}: ${p.diagnostics}`));
    });
    expect(problems).toEqual([]);
  });

  it.each(['ADT', 'ORU'])('maps every %s sample to a transaction whose entries pass the store validation', (code) => {
    const found = messagesOfType(code);
    expect(found.length).toBeGreaterThan(0);
    const problems = found.flatMap(({ name, index, message }) => writeProblems(hl7v2ToBundle(message)).map((p) => `${name} #${index + 1}: ${p}`));
    expect(problems).toEqual([]);
  });
});
