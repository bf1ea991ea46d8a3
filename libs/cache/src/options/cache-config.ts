import type { DynamicModule } from '@nestjs/common';
import { CacheConfigurationError } from '../cache.errors';
import { messages } from '../cache.messages';
import type { CacheModuleOptions } from './cache-module-options.interface';
import { cacheOptionsFromEnv } from './env-config';

/**
 * What `registerAs` from `@nestjs/config` returns for the module's options, spelled out here so
 * that the library's type declarations do not name `@nestjs/config` (an optional peer).
 */
export interface CacheConfigFactory {
  (): CacheModuleOptions;
  /** The injection token of the options (`inject: [cacheConfig.KEY]`). */
  readonly KEY: string | symbol;
  asProvider(): {
    imports: [DynamicModule];
    useFactory: (config: CacheModuleOptions) => CacheModuleOptions;
    inject: [string | symbol];
  };
}

const NAMESPACE = 'elileCache';

function isMissingConfigPackage(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') &&
    String((error as { message?: unknown }).message).includes('@nestjs/config')
  );
}

function configPackage(): typeof import('@nestjs/config') {
  try {
    // Loaded on first use rather than imported: applications that never touch `cacheConfig`
    // need not install @nestjs/config, and the package's main entry must load without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@nestjs/config') as typeof import('@nestjs/config');
  } catch (error) {
    if (isMissingConfigPackage(error))
      throw new CacheConfigurationError(messages.configPackageMissing(), { cause: error });
    throw error;
  }
}

const readEnv = (): CacheModuleOptions => cacheOptionsFromEnv(process.env);

/**
 * `registerAs` defines `KEY`, `asProvider` and its own markers on the factory itself, once; that
 * is the only state here, the same for every application in the process.
 */
function registered(): typeof readEnv {
  if (!Object.prototype.hasOwnProperty.call(readEnv, 'KEY')) configPackage().registerAs(NAMESPACE, readEnv);
  return readEnv;
}

/**
 * `@nestjs/config` namespace with the options read from `ELILE_*` variables (validated when the
 * ConfigModule loads it, at boot). `@nestjs/config` is loaded the first time this is used.
 * @throws CacheConfigurationError naming the package when `@nestjs/config` is not installed.
 * @example
 * CacheModule.forRootAsync({
 *   imports: [ConfigModule.forFeature(cacheConfig)],
 *   inject: [cacheConfig.KEY],
 *   useFactory: (options: CacheModuleOptions) => options,
 * })
 */
export const cacheConfig = new Proxy(readEnv, {
  get: (_target, property) => Reflect.get(registered(), property),
  has: (_target, property) => Reflect.has(registered(), property),
  ownKeys: () => Reflect.ownKeys(registered()),
  getOwnPropertyDescriptor: (_target, property) => Reflect.getOwnPropertyDescriptor(registered(), property),
}) as unknown as CacheConfigFactory;
