/**
 * AMQP topic matching: words are separated by dots, `*` matches exactly one word, `#` zero or more words.
 * The in-process bus routes with it; RabbitMQ does the same matching itself.
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  return matchWords(pattern.split('.'), 0, routingKey.split('.'), 0);
}

function matchWords(p: string[], i: number, k: string[], j: number): boolean {
  for (; i < p.length; i++, j++) {
    if (p[i] === '#') {
      // `#` may swallow any number of words: try every split point, shortest first.
      for (let skip = j; skip <= k.length; skip++) if (matchWords(p, i + 1, k, skip)) return true;
      return false;
    }
    if (j >= k.length) return false;
    if (p[i] !== '*' && p[i] !== k[j]) return false;
  }
  return j === k.length;
}
