import { describe, expect, it } from 'vitest';
import { highlight } from './highlight';

const strip = (html: string) =>
  html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

describe('highlight', () => {
  const samples: [string, string][] = [
    ['js', 'const s = `a ${b}` + "q\\"uote" // c\n/* block */ let n = 0x1F;'],
    ['python', 'def f(x):\n    """doc"""\n    return x * 2  # twice'],
    ['bash', 'echo "$HOME" # comment\nls -la | grep x#y'],
    ['sql', "SELECT name FROM users WHERE id = 'x' -- why"],
    ['json', '{"a": [1, 2.5e3, true, null]}'],
    ['html', '<div class="x"><!-- c --></div>'],
    ['unknown', '<b>&</b>'],
  ];

  it('never changes the text, only wraps it', () => {
    for (const [lang, code] of samples) expect(strip(highlight(code, lang))).toBe(code);
  });

  it('escapes markup', () => {
    expect(highlight('<script>', 'unknown')).toBe('&lt;script&gt;');
    expect(highlight('a < b && "<x>"', 'js')).not.toMatch(/<(?!\/?span)/);
  });

  it('marks keywords, strings, comments, numbers and calls', () => {
    const h = highlight('def f(x):\n    return x * 2  # twice', 'python');
    expect(h).toContain('<span class="hl-k">def</span>');
    expect(h).toContain('<span class="hl-f">f</span>');
    expect(h).toContain('<span class="hl-n">2</span>');
    expect(h).toContain('<span class="hl-c"># twice</span>');
    expect(highlight("select 'a' from t", 'sql')).toContain('<span class="hl-k">select</span> <span class="hl-s">&#39;a&#39;</span>');
  });

  it('does not take # inside a shell word for a comment', () => {
    expect(highlight('grep x#y', 'bash')).not.toContain('hl-c');
  });

  it('keeps an unterminated string to the end of its line', () => {
    const h = highlight('x = "open\ny = 1', 'js');
    expect(h).toContain('<span class="hl-s">&quot;open</span>');
    expect(h).toContain('<span class="hl-n">1</span>');
  });
});
