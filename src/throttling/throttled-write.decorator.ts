import { applyDecorators, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';

/**
 * Counts the request against the write limits (see WriteThrottlingModule); over them it answers
 * 429 with `Retry-After`. Clients are told apart by their address (`req.ip`): Express's
 * `trust proxy` is off, so an `X-Forwarded-For` a client sends does not give it a fresh budget.
 */
export const ThrottledWrite = (): MethodDecorator & ClassDecorator => applyDecorators(UseGuards(ThrottlerGuard));
