#!/usr/bin/env node
// The `audit-gateway` executable: loads the TypeScript sources through tsx, then the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
