import winston from 'winston';
import { captureStream, logCaptureFromEnv, type LogCapture } from './log-capture';
import { maskText, maskValue } from './log-masking';

/**
 * JSON-lines logger on stdout (the container runtime / systemd journal collects it; no files to rotate).
 * Every line passes through log masking: callers routinely log payload fragments and patient objects while
 * debugging an interface, and the safe default is that nothing personal reaches the log whatever they pass.
 *
 * Line shape: {"time":"…","level":"info","msg":"…", channel, messageId, correlationId, …other meta}
 */

export interface CreateLoggerOptions {
  level?: string;
  /** Defaults to process.stdout; tests pass a stream to capture lines. */
  stream?: NodeJS.WritableStream;
  /**
   * A copy of every line into a directory (see log-capture.ts). Defaults to LINGSHU_LOG_CAPTURE for loggers on
   * stdout; a logger on a caller's stream is that caller's to read and is not copied unless asked.
   */
  capture?: LogCapture;
}

// winston keeps the rendered line and the level under these registered symbols (triple-beam's MESSAGE / LEVEL).
const MESSAGE = Symbol.for('message');
const SPLAT = Symbol.for('splat');
const LEVELS = winston.config.npm.levels;

function resolveLevel(level: string | undefined): string {
  const l = (level ?? '').trim().toLowerCase();
  return l in LEVELS ? l : 'info';
}

/**
 * An error as a log field. The stack is only emitted when the logger runs at debug or finer: stacks are long,
 * repeat on every retry of a failing channel and carry file paths that operators do not need at info level.
 */
function serialiseError(err: Error, withStack: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { message: err.message };
  if (err.name && err.name !== 'Error') out.type = err.name;
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (withStack && err.stack) out.stack = err.stack;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) out.cause = serialiseError(cause, withStack);
  return out;
}

function serialiseErrors(value: unknown, withStack: boolean, depth = 0): unknown {
  if (value instanceof Error) return serialiseError(value, withStack);
  if (depth > 3 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  // Errors one level down ({ err: e } inside { details: … }) are common enough; deeper nesting is left to maskValue.
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = serialiseErrors(v, withStack, depth + 1);
    if (out[k] !== v) changed = true;
  }
  return changed ? out : value;
}

const RESERVED = new Set(['level', 'message', 'time', 'msg', 'stack']);

function lineFormat(withStack: () => boolean) {
  return winston.format((info) => {
    const stackWanted = withStack();
    const record = info as Record<string | symbol, unknown>;
    let msg: unknown = record.message;
    let error: Record<string, unknown> | undefined;

    // logger.error(err) hands winston the Error itself as the info object; logger.error('x', err) copies its
    // stack onto info and appends err.message to the message. Either way it becomes an `error` field.
    if (info instanceof Error) {
      error = serialiseError(info, stackWanted);
      msg = info.message;
    } else if (typeof record.stack === 'string') {
      const splat = record[SPLAT] as unknown[] | undefined;
      const original = splat?.find((x): x is Error => x instanceof Error);
      error = original
        ? serialiseError(original, stackWanted)
        : { message: String(msg), ...(stackWanted ? { stack: record.stack } : {}) };
    }
    if (msg instanceof Error) {
      error = error ?? serialiseError(msg, stackWanted);
      msg = msg.message;
    }

    const meta: Record<string, unknown> = {};
    for (const key of Object.keys(record)) {
      if (!RESERVED.has(key)) meta[key] = serialiseErrors(record[key], stackWanted);
    }
    if (error) meta.error = error;

    const line = {
      time: new Date().toISOString(),
      level: info.level,
      msg: typeof msg === 'string' ? maskText(msg) : maskValue(msg),
      ...(maskValue(meta) as Record<string, unknown>),
    };
    record[MESSAGE] = safeStringify(line);
    return info;
  })();
}

function safeStringify(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (err) {
    // A log call must never throw into the caller's code path.
    return JSON.stringify({ time: line.time, level: line.level, msg: line.msg, logError: (err as Error).message });
  }
}

export function createLogger(options: CreateLoggerOptions = {}): winston.Logger {
  const level = resolveLevel(options.level ?? process.env.LINGSHU_LOG_LEVEL);
  const capture = options.capture ?? (options.stream ? undefined : logCaptureFromEnv());
  // With a capture the logger runs at the finer of both levels and the output transport keeps the configured one.
  const captureLevel = capture ? resolveLevel(capture.level) : level;
  const output = new winston.transports.Stream({ stream: options.stream ?? process.stdout, ...(capture ? { level } : {}) });
  const transports: winston.transport[] = [output];
  if (capture) transports.push(new winston.transports.Stream({ stream: captureStream(capture), level: captureLevel }));
  // Read the level at write time so that raising the level at runtime (logger.level = 'debug') brings stacks back
  // (with a capture the output transport's own level decides, and stays as configured).
  let created: winston.Logger | undefined;
  const withStack = () => LEVELS[(output.level ?? created?.level ?? level) as keyof typeof LEVELS] >= LEVELS.debug;
  created = winston.createLogger({
    level: LEVELS[captureLevel as keyof typeof LEVELS] > LEVELS[level as keyof typeof LEVELS] ? captureLevel : level,
    levels: LEVELS,
    format: lineFormat(withStack),
    transports,
    exitOnError: false,
  });
  return created;
}

/** Root logger of the engine process. */
export const logger: winston.Logger = createLogger();

/** A logger that adds `meta` (channel, messageId, correlationId …) to every line. */
export function childLogger(meta: Record<string, unknown>, parent: winston.Logger = logger): winston.Logger {
  return parent.child(meta);
}
