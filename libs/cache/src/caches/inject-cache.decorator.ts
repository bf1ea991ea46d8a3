import { Inject } from '@nestjs/common';
import { getCacheToken } from './cache-token.util';

/**
 * Injects the `CacheService` of a domain:
 * @example constructor(@InjectCache('screening') private readonly cache: CacheService<Screening>) {}
 */
export const InjectCache = (domain: string): ParameterDecorator & PropertyDecorator => Inject(getCacheToken(domain));
