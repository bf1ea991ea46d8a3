import { describeLockBehaviour } from './lock-conformance';
import { memoryLocks, redisLocks } from './lock-fixture';

// One suite, every backend: the memory backend must behave as Redis does, within one process.
describeLockBehaviour('memory', memoryLocks);
describeLockBehaviour('redis', redisLocks);
