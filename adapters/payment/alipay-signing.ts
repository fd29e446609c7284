import crypto, { KeyObject } from 'node:crypto';
import iconv from 'iconv-lite';

/**
 * The RSA2 string (formats.md 2.2): every parameter except the excluded and the empty ones, keys sorted in ASCII order,
 * joined as `k=v&…` with the values as they are (decoded, not URL-encoded). Requests exclude `sign`; notifications
 * exclude `sign` and `sign_type`.
 */
export function signContent(params: Record<string, string | undefined>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(privateKey: KeyObject, content: string): string {
  return crypto.sign('sha256', Buffer.from(content, 'utf8'), privateKey).toString('base64');
}

/** `charset`: the bytes the signer signed; requests and answers are UTF-8, a notification says its own. */
export function rsa2Verify(publicKey: KeyObject, content: string, signature: string, charset = 'utf-8'): boolean {
  try {
    return crypto.verify('sha256', iconv.encode(content, charset), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The exact text of the value of `"<key>":` in an OpenAPI answer. Alipay signs these characters, not a
 * re-serialisation of them (key order, escapes and spacing would differ), so the object is cut out of the body by
 * scanning for its closing brace outside strings.
 */
export function responseText(body: string, key: string): string | undefined {
  const at = body.indexOf(`"${key}"`);
  if (at < 0) return undefined;
  let i = at + key.length + 2;
  while (i < body.length && /\s/.test(body[i])) i++;
  if (body[i] !== ':') return undefined;
  i++;
  while (i < body.length && /\s/.test(body[i])) i++;
  if (body[i] !== '{') return undefined;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return body.slice(start, i + 1);
  }
  return undefined;
}

/** `a=1&b=%E4%B8%AD` as name → value, percent-escapes decoded in the charset the notification declares. */
export function decodeForm(body: Buffer, charset: string): Record<string, string> {
  const out: Record<string, string> = {};
  const decode = (s: string) => {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === '+') bytes.push(0x20);
      else if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(c.charCodeAt(0)); // read as latin1: one character per byte
    }
    return iconv.decode(Buffer.from(bytes), charset);
  };
  for (const pair of body.toString('latin1').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const k = decode(eq < 0 ? pair : pair.slice(0, eq));
    out[k] = eq < 0 ? '' : decode(pair.slice(eq + 1));
  }
  return out;
}
