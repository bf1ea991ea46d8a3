/**
 * Escapes Redis glob metacharacters (`* ? [ ] \`) so that an id used inside a pattern matches only
 * itself: `invalidatePattern(`${escapeGlob(id)}:*`)`. Without it, an id `*` matches every key.
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Compiles a pattern in Redis's glob dialect (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) to a
 * RegExp, for stores that match keys in process. Shell-glob libraries differ from Redis (path
 * separators, `!` negation, braces), so the dialect is implemented here, close to Redis's own
 * `stringmatchlen`.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]);
    else if (char === '[') {
      // Like Redis, an unterminated class runs to the end of the pattern.
      const end = classEnd(pattern, i);
      source += characterClass(pattern.slice(i + 1, end === -1 ? pattern.length : end));
      i = end === -1 ? pattern.length : end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function classEnd(pattern: string, open: number): number {
  for (let i = open + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']') return i;
  }
  return -1;
}

function characterClass(body: string): string {
  let negate = false;
  let i = 0;
  if (body[0] === '^') {
    negate = true;
    i = 1;
  }
  let parts = '';
  for (; i < body.length; i++) {
    if (body[i] === '\\' && i + 1 < body.length) parts += escapeRegExp(body[++i]);
    else if (body[i + 1] === '-' && i + 2 < body.length) {
      // Redis accepts reversed ranges ("[z-a]") as the same range; RegExp would throw.
      const [from, to] = [body[i], body[i + 2]].sort();
      parts += `${escapeRegExp(from)}-${escapeRegExp(to)}`;
      i += 2;
    } else parts += escapeRegExp(body[i]);
  }
  if (!parts) return negate ? '[\\s\\S]' : '(?!)';
  return `[${negate ? '^' : ''}${parts}]`;
}

function escapeRegExp(char: string): string {
  return char.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
