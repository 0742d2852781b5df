// POST /graphql takes JSON or GraphQL bodies only. Form-encoded, multipart and text/plain bodies
// are what any web page can make a browser send cross-site without a CORS preflight, with the
// browser's saved Basic credentials for this host attached: accepting them would let a foreign
// page run mutations (CSRF). Every accepted type needs a preflight, which CORS then decides.
import type { Plugin } from 'graphql-yoga';

export const ACCEPTED_POST_TYPES = ['application/json', 'application/graphql+json', 'application/graphql'];

/** Refuses a POST with any other Content-Type: 415 with a GraphQL error listing the accepted types. */
export function useAcceptedMediaTypes(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const declared = request.headers.get('content-type');
      const type = declared?.split(';')[0]?.trim().toLowerCase() ?? '';
      if (ACCEPTED_POST_TYPES.includes(type)) return;
      const got = type ? `Content-Type "${type}"` : 'no Content-Type';
      endResponse(
        fetchAPI.Response.json(
          {
            errors: [
              {
                message: `POST /graphql accepts ${ACCEPTED_POST_TYPES.join(', ')}; the request has ${got}`,
                extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', accepted: ACCEPTED_POST_TYPES },
              },
            ],
          },
          { status: 415 },
        ),
      );
    },
  };
}
