// The documentation's links: every relative link in README.md, the other top-level Markdown files
// and docs/ must name a file or folder of the repository, and every `#anchor` a heading of the
// page it points to (as GitHub makes heading anchors). Code blocks and inline code are not links.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve('.');

/**
 * Pages another branch adds; a link to one is allowed until it exists. Empty while nothing is
 * in flight.
 */
const LANDING_ELSEWHERE = new Set<string>([]);

function markdownFiles(): string[] {
  const top = readdirSync(root).filter((f) => f.endsWith('.md'));
  const docs: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(rel);
      else if (entry.name.endsWith('.md')) docs.push(rel);
    }
  };
  visit('docs');
  return [...top, ...docs].sort();
}

/** The page's text without fenced code blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link targets: inline `[text](target)`, autolinks `<https://…>` are not relative, references `[x]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map(
    (m) => m[1] as string,
  );
  return [...inline, ...references];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = (heading as string).replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1'); // a link in a heading keeps its text
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const files = markdownFiles();

describe('documentation links', () => {
  it('finds the pages it checks', () => {
    expect(files).toContain('README.md');
    expect(files).toContain(path.join('docs', 'compat', 'README.md'));
  });

  it.each(files)('%s: every relative link and #anchor resolves', (file) => {
    const markdown = readFileSync(path.join(root, file), 'utf8');
    const broken: string[] = [];
    for (const target of linkTargets(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: — not ours to check
      const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
      const resolved =
        pathPart === '' ? path.join(root, file) : path.resolve(root, path.dirname(file), decodeURI(pathPart));
      const relative = path.relative(root, resolved);
      if (relative.startsWith('..')) {
        broken.push(`${target}: outside the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        if (!LANDING_ELSEWHERE.has(relative)) broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
        broken.push(`${target}: an anchor into something that is not a Markdown page`);
        continue;
      }
      if (!anchors(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor)))
        broken.push(`${target}: no heading with that anchor`);
    }
    expect(broken).toEqual([]);
  });

  it('cites the vendor documents by name, never by a path outside the repository', () => {
    // The vendor documents were read from a folder beside the repository; readers have the
    // vendors' own pages instead (docs/compat/), so no page or comment may send them there.
    const outside = ['shared', 'spec'].join('/');
    const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      encoding: 'utf8',
    })
      .split('\0')
      .filter((f) => /\.(md|ts|mjs|js|json|ya?ml)$/.test(f) && existsSync(f));
    const citing = tracked.filter((f) => readFileSync(f, 'utf8').includes(outside));
    expect(citing).toEqual([]);
  });

  it('reads anchors as GitHub makes them', () => {
    expect([
      ...anchors('# Tamper evidence\n## Hostile input is refused early, never with a 500\n## A\n## A'),
    ]).toEqual(['tamper-evidence', 'hostile-input-is-refused-early-never-with-a-500', 'a', 'a-1']);
    expect([
      ...anchors("## One tenant never sees another's events\n## Batch ingest (not a vendor API)"),
    ]).toEqual(['one-tenant-never-sees-anothers-events', 'batch-ingest-not-a-vendor-api']);
  });

  it('finds links, but not in code', () => {
    expect(linkTargets('[a](docs/x.md#y) `[b](no.md)`\n```\n[c](no.md)\n```\n[d]: ref.md\n')).toEqual([
      'docs/x.md#y',
      'ref.md',
    ]);
  });
});
