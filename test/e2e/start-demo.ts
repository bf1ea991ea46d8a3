import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';

/** Boots the demo application with `env` set (undefined unsets) while its configuration is read. */
export async function startDemo(env: Record<string, string | undefined>): Promise<INestApplication> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete process.env[name];
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    return await app.init();
  } finally {
    process.env = saved;
  }
}
