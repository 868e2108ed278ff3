// Node's test runner loads its global set-up before --import hooks apply, so this plain module
// registers tsx itself and hands over to the TypeScript set-up (servers-setup.ts).
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
const setup = createRequire(import.meta.url)('./servers-setup.ts');

export const globalSetup = setup.globalSetup;
export const globalTeardown = setup.globalTeardown;
