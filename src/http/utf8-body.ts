// Refuses a POST body that is not valid UTF-8, on /graphql and the REST write routes. The
// platform's decoder (Request.json(), yoga's parser) would replace each malformed byte with
// U+FFFD and the chain would then seal text the producer never sent; a 400 that says where the
// bad byte is lets the producer fix its encoding instead.
import { isUtf8 } from 'node:buffer';
import type { Context, MiddlewareHandler } from 'hono';
import { ValidationError } from '../errors.ts';
import { errorResponse } from '../rest/errors.ts';
import type { AppEnv } from './http-env.ts';

/** How each transport answers: GraphQL clients read `errors`, REST clients the error body. */
const answers = {
  rest: (c: Context<AppEnv>, error: ValidationError) => errorResponse(c, error),
  graphql: (c: Context<AppEnv>, error: ValidationError) =>
    c.json(
      {
        errors: [
          {
            message: error.message,
            extensions: { code: error.code, field: error.field, requestId: c.get('requestId') },
          },
        ],
      },
      400,
    ),
} as const;

export function requireUtf8Body(transport: keyof typeof answers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST' || c.req.raw.body === null) return next();
    // Read in full (the body limit in front of this bounds it), then handed on as the same bytes.
    const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    // Validated in place (simdutf), without decoding a string nobody reads.
    if (!isUtf8(bytes)) {
      const at = firstMalformedByte(bytes);
      const byte = (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, '0');
      return answers[transport](
        c,
        new ValidationError(
          'body',
          `is not valid UTF-8: the sequence starting at byte offset ${at} (0x${byte}) is malformed; nothing was stored`,
        ),
      );
    }
    c.req.raw = new Request(c.req.raw, { body: bytes });
    return next();
  };
}

/**
 * Offset of the first byte that does not begin a well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no encoded surrogates U+D800–U+DFFF, nothing above U+10FFFF), or -1.
 */
export function firstMalformedByte(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const lead = b[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const continuation =
      lead >= 0xc2 && lead <= 0xdf
        ? 1
        : lead >= 0xe0 && lead <= 0xef
          ? 2
          : lead >= 0xf0 && lead <= 0xf4
            ? 3
            : 0;
    if (continuation === 0 || i + continuation >= b.length) return i;
    // The second byte's range is narrower after some leads: that is what rules out overlong
    // forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    const second = b[i + 1] as number;
    if (second < low || second > high) return i;
    for (let k = 2; k <= continuation; k++) {
      if (((b[i + k] as number) & 0xc0) !== 0x80) return i;
    }
    i += continuation + 1;
  }
  return -1;
}
