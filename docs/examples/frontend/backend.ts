// Your backend's half: it holds the API key and mints a short-lived viewer token for the user who is
// signed in, so the key never reaches a browser. docs/frontend.md explains it; the browser test
// (test/frontend-browser.test.ts) serves its page with this function.

/** Who your backend says is signed in: an auditor sees the whole tenant, anyone else one organisation. */
export type SignedInUser = { id: string; orgId: string; isAuditor: boolean };

export type AuditToken = { token: string; expiresAt: string; gatewayUrl: string };

export async function mintAuditToken(
  gatewayUrl: string,
  apiKey: string,
  user: SignedInUser,
  ttlSeconds = 600,
): Promise<AuditToken> {
  const res = await fetch(`${gatewayUrl}/v1/viewer-tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      ttlSeconds,
      // Every read made with the token, the live tail included, is ANDed with this.
      ...(user.isAuditor ? {} : { restriction: { groupIds: [user.orgId] } }),
    }),
  });
  if (!res.ok) throw new Error(`minting a viewer token failed: ${res.status} ${await res.text()}`);
  const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
  return { token, expiresAt, gatewayUrl };
}
