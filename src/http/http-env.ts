// The Hono environment shared by the app, the REST dialects and the GraphQL mount.
import type { Logger } from 'pino';
import type { Viewer } from '../audit/viewer.ts';
import type { Authenticator } from '../auth/authenticate.ts';

export type AppEnv = {
  Bindings: {
    /** Peer address of the TCP connection, as the Node server saw it. */
    remoteAddress?: string;
  };
  Variables: {
    requestId: string;
    logger: Logger;
    /** The client's address: the peer, or X-Forwarded-For unwrapped through trusted proxies only. */
    clientAddress: string;
    authenticator: Authenticator;
    /** Set by the REST authentication middleware once the API key is verified. */
    viewer?: Viewer;
  };
};
