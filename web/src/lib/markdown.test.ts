import { describe, expect, it } from 'vitest';
import { inline, renderMarkdown, safeURL } from './markdown';

describe('renderMarkdown', () => {
  it('escapes HTML everywhere', () => {
    const out = renderMarkdown('<script>alert(1)</script>\n\n**<b>x</b>**\n\n```\n<img src=x onerror=alert(1)>\n```');
    expect(out).not.toMatch(/<script|<img|<b>/);
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('<strong>&lt;b&gt;x&lt;/b&gt;</strong>');
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('drops script links but keeps http, mailto and relative ones', () => {
    expect(renderMarkdown('[a](javascript:alert(1))')).not.toContain('href');
    expect(renderMarkdown('[a](JaVa\tScRipt:alert(1))')).not.toContain('href');
    expect(renderMarkdown('[a](data:text/html,x)')).not.toContain('href');
    expect(renderMarkdown('[a](https://example.com/x?a=1&b=2)')).toContain('href="https://example.com/x?a=1&amp;b=2"');
    expect(renderMarkdown('[mail](mailto:a@b.c)')).toContain('href="mailto:a@b.c"');
    expect(safeURL('/docs')).toBe('/docs');
    expect(safeURL('vbscript:x')).toBeNull();
  });

  it('quotes in link targets cannot break out of the attribute', () => {
    const out = renderMarkdown('[x](https://e.com/"onmouseover="alert(1))');
    expect(out).not.toMatch(/"onmouseover/);
  });

  it('renders headings, emphasis, lists, quotes, rules and tables', () => {
    expect(renderMarkdown('# Title')).toBe('<h1>Title</h1>');
    expect(renderMarkdown('### Sub ###')).toBe('<h3>Sub</h3>');
    expect(renderMarkdown('a *b* _c_ **d** ~~e~~ `f`')).toBe(
      '<p>a <em>b</em> <em>c</em> <strong>d</strong> <del>e</del> <code>f</code></p>',
    );
    expect(renderMarkdown('- one\n- two\n  - nested\n- three')).toBe(
      '<ul><li>one</li><li>two<ul><li>nested</li></ul></li><li>three</li></ul>',
    );
    expect(renderMarkdown('3. c\n4. d')).toBe('<ol start="3"><li>c</li><li>d</li></ol>');
    expect(renderMarkdown('> quoted\n> more')).toBe('<blockquote><p>quoted<br>more</p></blockquote>');
    expect(renderMarkdown('a\n\n---\n\nb')).toBe('<p>a</p><hr><p>b</p>');
    const table = renderMarkdown('| a | b |\n|:--|--:|\n| 1 | `x|y` |');
    expect(table).toContain('<th style="text-align:left">a</th>');
    expect(table).toContain('<td style="text-align:right"><code>x|y</code></td>');
  });

  it('keeps snake_case words and arithmetic intact', () => {
    expect(inline('call my_func_name now')).toBe('call my_func_name now');
    expect(inline('2 * 3 * 4')).toBe('2 * 3 * 4');
  });

  it('renders fenced code with a language, a copy button and highlighting', () => {
    const out = renderMarkdown('```go\nfunc main() { // hi\n\treturn "x"\n}\n```', { copyLabel: 'Kopieren' });
    expect(out).toContain('<span class="code-lang">go</span>');
    expect(out).toContain('data-copy>Kopieren</button>');
    expect(out).toContain('<span class="hl-k">func</span>');
    expect(out).toContain('<span class="hl-f">main</span>');
    expect(out).toContain('<span class="hl-c">// hi</span>');
    expect(out).toContain('\t<span class="hl-k">return</span> <span class="hl-s">&quot;x&quot;</span>');
  });

  it('treats an unclosed fence (a streaming answer) as code to the end', () => {
    const out = renderMarkdown('Here:\n```py\nprint(1)\n# **not bold**');
    expect(out).toContain('<p>Here:</p>');
    expect(out).toContain('<span class="hl-c"># **not bold**</span>');
    expect(out).not.toContain('<strong>');
  });

  it('does not treat Markdown inside code spans', () => {
    expect(inline('`**a**` **b**')).toBe('<code>**a**</code> <strong>b</strong>');
  });

  it('autolinks bare URLs without trailing punctuation', () => {
    expect(inline('see https://golem.dev/docs.')).toBe(
      'see <a href="https://golem.dev/docs" target="_blank" rel="noopener noreferrer">https://golem.dev/docs</a>.',
    );
  });

  it('handles backslash escapes', () => {
    expect(inline('\\*not em\\*')).toBe('*not em*');
  });
});
