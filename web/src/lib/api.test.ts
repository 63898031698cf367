import { describe, expect, it } from 'vitest';
import { events, ndjson } from './api';

function body(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function all<T>(g: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

describe('server-sent events', () => {
  it('parses events split anywhere, with comments and CRLF', async () => {
    const text = ': keep-alive\r\nevent: start\r\ndata: {"a":1}\r\n\r\nevent: delta\ndata: {"content":"Hi"}\n\ndata: line1\ndata: line2\n\n';
    for (const size of [1, 3, 7, text.length]) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      expect(await all(events(body(chunks)))).toEqual([
        { event: 'start', data: '{"a":1}' },
        { event: 'delta', data: '{"content":"Hi"}' },
        { event: 'message', data: 'line1\nline2' },
      ]);
    }
  });

  it('keeps multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: 天空\n\n');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    expect(await all(events(stream))).toEqual([{ event: 'message', data: '天空' }]);
  });

  it('delivers a last event without a trailing blank line', async () => {
    expect(await all(events(body(['event: done\ndata: {}'])))).toEqual([{ event: 'done', data: '{}' }]);
  });
});

describe('ndjson', () => {
  it('yields one object per line', async () => {
    const got = await all(ndjson<{ status: string }>(body(['{"status":"a"}\n{"sta', 'tus":"b"}\n\n{"status":"c"}'])));
    expect(got.map((x) => x.status)).toEqual(['a', 'b', 'c']);
  });
});
