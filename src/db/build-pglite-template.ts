// `npm run build`'s last step: packs the embedded database template (see pglite-template.ts).
import { writePgliteTemplate } from './pglite-template.ts';

process.stdout.write(`wrote ${await writePgliteTemplate()}\n`);
