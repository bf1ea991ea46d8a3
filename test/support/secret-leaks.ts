import { inspect } from 'node:util';

/** Every way an error gets printed or shipped: message, stack, own properties, cause chain. */
export function everythingIn(error: unknown): string {
  const parts = [inspect(error, { depth: 10, showHidden: true })];
  for (let current = error as Error | undefined; current; current = current.cause as Error | undefined) {
    const ownProperties = JSON.stringify(current, Object.getOwnPropertyNames(current));
    parts.push(String(current.message), String(current.stack), ownProperties);
  }
  return parts.join('\n');
}

/** Everything written to stdout, stderr and the console while it runs. */
export function captureOutput() {
  const chunks: string[] = [];
  const record = (...args: unknown[]) => {
    chunks.push(args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 8 }))).join(' '));
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (record(String(chunk)), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (record(String(chunk)), true)),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation(record),
    ),
  ];
  return {
    text: () => chunks.join('\n'),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

/**
 * The pieces of `password` found in `text`: the password whole, as a URL's user info or query
 * would spell it, and, for a password of 4 characters or more, any 4 consecutive characters of it.
 * Pick test passwords that share no 4 characters with the library's own sentences.
 */
export function passwordPiecesIn(text: string, password: string): string[] {
  const userInfo = new URL('redis://host');
  userInfo.password = password;
  const spellings = [
    password,
    encodeURIComponent(password),
    userInfo.password,
    new URLSearchParams([['p', password]]).toString().slice(2),
  ];
  const characters = Array.from(password);
  const pieces = characters.slice(3).map((_, i) => characters.slice(i, i + 4).join(''));
  return [...new Set([...spellings, ...pieces])].filter((piece) => text.includes(piece));
}
