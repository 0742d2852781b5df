#!/usr/bin/env node
// The development entry point: runs the CLI from the TypeScript sources through tsx (a
// devDependency), so a change is live without `npm run build`. The installed `audit-gateway`
// and `npm start` run the compiled dist/main.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
