import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** The npm packages whose shipped HL7 v2 samples the parser and mappings must read, at pinned versions. */
export const SAMPLE_PACKAGES = ['hl7-standard@1.0.4', 'simple-hl7@3.3.0', 'nodehl7@2.0.0'] as const;

const CACHE = join(tmpdir(), 'lingshu-hl7v2-npm-samples');

/**
 * Fetches a package tarball with `npm pack` and extracts it under os.tmpdir(), once: later runs read the cache. The
 * tarballs are third-party code and stay out of the repository. Without the registry this throws, with the command
 * that failed, so the suite fails instead of passing on nothing.
 */
export function extractedPackage(spec: string): string {
  const dir = join(CACHE, spec.replace(/[@/]/g, '_'));
  if (existsSync(join(dir, 'package', 'package.json'))) return dir;
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const tarball = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', work], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop() as string;
    execFileSync('tar', ['xzf', join(work, tarball), '-C', work]);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    const detail = err instanceof Error ? err.message.split('\n').slice(0, 3).join(' ') : String(err);
    throw new Error(`Could not fetch the HL7 v2 samples of ${spec} with 'npm pack ${spec}' (is the npm registry reachable?): ${detail}`);
  }
  // Two workers may fetch at once: the first rename wins and the other keeps the complete copy it finds.
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

export interface SampleFile {
  /** `simple-hl7@3.3.0/test/samples/oru.hl7` */
  name: string;
  text: string;
}

/** Files in the package that are HL7 v2 messages or batches (they start with MSH, FHS or BHS), not code. */
export function hl7SampleFiles(spec: string): SampleFile[] {
  const root = join(extractedPackage(spec), 'package');
  const out: SampleFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (entry === 'node_modules') continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(hl7|adm|txt|er7|msg)$/i.test(entry)) {
        const text = readFileSync(path, 'utf8');
        if (/^\uFEFF?\s*(MSH|FHS|BHS)/.test(text)) out.push({ name: `${spec}/${relative(root, path)}`, text });
      }
    }
  };
  walk(root);
  return out;
}
