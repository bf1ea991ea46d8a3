/** The keys of a domain that Keyv stores use; see {@link keyvNamespacePrefix}. */
export const KEYV_KEY_SPACE = 'keyv:';

/**
 * The start of every key a Keyv store writes for `namespace`, inside its domain.
 *
 * A namespace is written with its length (`keyv:5:users:`), so that no namespace's keys can be
 * read as another's: `a` (`keyv:1:a:`) is not a prefix of `a:b` (`keyv:3:a:b:`), and a namespace
 * holding glob characters is escaped where it becomes a pattern. Keys without a namespace live
 * under `keyv:-:`, which no length starts with. Keyv treats an empty namespace as none, and so
 * does this.
 */
export function keyvNamespacePrefix(namespace: string | undefined): string {
  return namespace ? `${KEYV_KEY_SPACE}${namespace.length}:${namespace}:` : `${KEYV_KEY_SPACE}-:`;
}
