import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';

/**
 * A copy of every log line in a directory, so that the test suite can prove that nothing personal reached a log
 * (issue 7: "logs captured during the whole test suite contain no unmasked ID number, phone number or patient name").
 * The suite's global setup sets LINGSHU_LOG_CAPTURE; every process that logs (each jest worker, each engine a test
 * spawns, which inherits the environment) appends to files of its own, so lines never interleave mid-way.
 *
 * Lines are appended synchronously: a jest worker is ended soon after its last test, and a buffered tail would be
 * the part of the run that nobody checked.
 */
export interface LogCapture {
  /** Directory the lines go to. */
  dir: string;
  /** What produced them (the test file, for the suite); part of the file name. */
  source: string;
  /** Captured from this level up, whatever reaches stdout. */
  level: string;
}

/** From LINGSHU_LOG_CAPTURE (directory), LINGSHU_LOG_CAPTURE_SOURCE and LINGSHU_LOG_CAPTURE_LEVEL (default debug). */
export function logCaptureFromEnv(env: NodeJS.ProcessEnv = process.env): LogCapture | undefined {
  const dir = env.LINGSHU_LOG_CAPTURE?.trim();
  if (!dir) return undefined;
  return { dir, source: env.LINGSHU_LOG_CAPTURE_SOURCE?.trim() || 'process', level: env.LINGSHU_LOG_CAPTURE_LEVEL?.trim() || 'debug' };
}

/** `test/engine/a b.test.ts` → `test_engine_a_b.test.ts`: one flat directory, file names safe everywhere. */
function fileStem(source: string): string {
  return source.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-150);
}

/** The file this process's lines go to: `<source>.<pid>.jsonl`. */
export function captureFile(capture: LogCapture): string {
  return path.join(capture.dir, `${fileStem(capture.source)}.${process.pid}.jsonl`);
}

/** A stream for a winston Stream transport; a failing write (directory removed) is dropped, never thrown. */
export function captureStream(capture: LogCapture): Writable {
  const file = captureFile(capture);
  let dirMade = false;
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      try {
        if (!dirMade) {
          fs.mkdirSync(capture.dir, { recursive: true });
          dirMade = true;
        }
        fs.appendFileSync(file, chunk);
      } catch {
        // A log call must never fail because its copy could not be kept.
      }
      done();
    },
  });
}
