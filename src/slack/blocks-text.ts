/** What a Block Kit message looks like, as plain text for a terminal (the demo shows what Slack would show). */
import type { KnownBlock } from './blocks.js';

type AnyBlock = KnownBlock & Record<string, unknown>;
type TextObject = { type: string; text: string } | undefined;

/** Slack mrkdwn to plain text: <url|label> links, *bold*, _italic_, ~strike~, :emoji: kept as words. */
export function mrkdwnToText(s: string): string {
  return s
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<([^>]+)>/g, '$1')
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1$2')
    .replace(/(^|[\s(])_([^_\n]+)_/g, '$1$2')
    .replace(/(^|[\s(])~([^~\n]+)~/g, '$1$2')
    .replace(/```\n?/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const text = (t: TextObject): string => (t ? mrkdwnToText(t.text) : '');

export function blocksToText(blocks: readonly KnownBlock[]): string {
  const out: string[] = [];
  for (const raw of blocks) {
    const b = raw as AnyBlock;
    switch (b.type) {
      case 'header':
        out.push(text(b.text as TextObject).toUpperCase());
        break;
      case 'section': {
        if (b.text) out.push(text(b.text as TextObject));
        const fields = (b.fields as TextObject[] | undefined) ?? [];
        if (fields.length) out.push(fields.map((f) => `  ${text(f).replace(/\n/g, ' ')}`).join('\n'));
        break;
      }
      case 'context':
        out.push(
          ((b.elements as { type: string; text?: string }[]) ?? [])
            .map((e) => (e.text ? mrkdwnToText(e.text) : ''))
            .join('  '),
        );
        break;
      case 'divider':
        out.push('─'.repeat(60));
        break;
      case 'actions':
        out.push(
          ((b.elements as { type: string; text?: TextObject }[]) ?? [])
            .map((e) => `[ ${text(e.text)} ]`)
            .join(' '),
        );
        break;
      default:
        break;
    }
  }
  return `${out.join('\n')}\n`;
}
