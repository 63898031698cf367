// A compact Markdown renderer for chat answers: the parts of CommonMark and GitHub's extensions that
// models actually write (headings, paragraphs, emphasis, code spans and fenced blocks, lists, quotes,
// tables, links, rules). It is not a conforming parser; it is small, and it is safe: every piece of the
// source is HTML-escaped, and links keep only http(s), mailto and relative targets, so model output can
// never inject markup or script. It also renders unfinished input sensibly, since answers arrive token by
// token (an unclosed code fence is a code block up to the end).

import { escapeHTML } from './escape';
import { highlight } from './highlight';

export interface MarkdownOptions {
  /** Label of the copy button on code blocks. */
  copyLabel?: string;
}

const fenceRe = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const headingRe = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const hrRe = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const quoteRe = /^ {0,3}> ?/;
const listRe = /^( {0,12})([-*+]|\d{1,9}[.)])([ \t]+|$)(.*)$/;
const tableSepRe = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

function isBlank(line: string) {
  return /^\s*$/.test(line);
}

function startsBlock(lines: string[], i: number): boolean {
  const l = lines[i];
  return (
    fenceRe.test(l) ||
    headingRe.test(l) ||
    hrRe.test(l) ||
    quoteRe.test(l) ||
    listRe.test(l) ||
    (l.includes('|') && i + 1 < lines.length && tableSepRe.test(lines[i + 1]) && lines[i + 1].includes('-'))
  );
}

/** Cells of a table row: split on pipes that are not escaped and not inside a code span. */
function cells(row: string): string[] {
  let s = row.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const out: string[] = [];
  let cur = '';
  let code = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      code = !code;
      cur += c;
    } else if (c === '|' && !code) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

function codeBlock(code: string, lang: string, opts: MarkdownOptions): string {
  const label = escapeHTML(opts.copyLabel || 'Copy');
  const l = escapeHTML(lang);
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${l}</span>` +
    `<button type="button" class="copy-code" data-copy>${label}</button></div>` +
    `<pre><code${lang ? ` class="language-${l}"` : ''}>${highlight(code, lang)}</code></pre></div>`
  );
}

function renderBlocks(lines: string[], opts: MarkdownOptions, tight = false): string {
  let out = '';
  let i = 0;
  const n = lines.length;
  const paragraphs: string[] = [];
  while (i < n) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = fenceRe.exec(line))) {
      const fence = m[1];
      const indent = line.length - line.trimStart().length;
      const body: string[] = [];
      i++;
      while (i < n) {
        const t = lines[i].trim();
        if (t.startsWith(fence[0].repeat(fence.length)) && /^([`~])\1*$/.test(t)) {
          i++;
          break;
        }
        body.push(lines[i].replace(new RegExp(`^ {0,${indent}}`), ''));
        i++;
      }
      out += codeBlock(body.join('\n'), m[2], opts);
      continue;
    }
    if ((m = headingRe.exec(line))) {
      const lvl = m[1].length;
      out += `<h${lvl}>${inline(m[2] || '')}</h${lvl}>`;
      i++;
      continue;
    }
    if (hrRe.test(line)) {
      out += '<hr>';
      i++;
      continue;
    }
    if (quoteRe.test(line)) {
      const body: string[] = [];
      while (i < n && !isBlank(lines[i]) && (quoteRe.test(lines[i]) || !startsBlock(lines, i))) {
        body.push(lines[i].replace(quoteRe, ''));
        i++;
      }
      out += `<blockquote>${renderBlocks(body, opts)}</blockquote>`;
      continue;
    }
    if ((m = listRe.exec(line))) {
      const res = renderList(lines, i, opts);
      out += res.html;
      i = res.next;
      continue;
    }
    if (line.includes('|') && i + 1 < n && tableSepRe.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = cells(line);
      const aligns = cells(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : '',
      );
      const cell = (tag: string, text: string, k: number) =>
        `<${tag}${aligns[k] ? ` style="text-align:${aligns[k]}"` : ''}>${inline(text)}</${tag}>`;
      let t = '<div class="table-wrap"><table><thead><tr>';
      head.forEach((c, k) => (t += cell('th', c, k)));
      t += '</tr></thead><tbody>';
      i += 2;
      while (i < n && !isBlank(lines[i]) && lines[i].includes('|')) {
        const row = cells(lines[i]);
        t += '<tr>';
        for (let k = 0; k < head.length; k++) t += cell('td', row[k] ?? '', k);
        t += '</tr>';
        i++;
      }
      out += t + '</tbody></table></div>';
      continue;
    }
    paragraphs.length = 0;
    while (i < n && !isBlank(lines[i]) && (paragraphs.length === 0 || !startsBlock(lines, i))) {
      paragraphs.push(lines[i].trim());
      i++;
    }
    const text = paragraphs.map(inline).join('<br>');
    out += tight ? text : `<p>${text}</p>`;
  }
  return out;
}

/** Renders the list that starts at lines[start]; items hold nested blocks indented under them. */
function renderList(lines: string[], start: number, opts: MarkdownOptions): { html: string; next: number } {
  const first = listRe.exec(lines[start])!;
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const startNum = ordered ? parseInt(first[2], 10) : 1;
  const items: string[][] = [];
  let loose = false;
  let i = start;
  const n = lines.length;
  let contentIndent = baseIndent + first[2].length + 1;
  while (i < n) {
    const line = lines[i];
    const m = listRe.exec(line);
    if (m && m[1].length <= baseIndent + 1 && /\d/.test(m[2]) === ordered) {
      items.push([m[4]]);
      contentIndent = m[1].length + m[2].length + Math.max(1, Math.min(m[3].length, 4));
      i++;
      continue;
    }
    if (isBlank(line)) {
      // A blank line continues the list only if more of it follows.
      let j = i + 1;
      while (j < n && isBlank(lines[j])) j++;
      if (j >= n) break;
      const next = lines[j];
      const indent = next.length - next.trimStart().length;
      const nm = listRe.exec(next);
      if (indent >= contentIndent || (nm && nm[1].length <= baseIndent + 1 && /\d/.test(nm[2]) === ordered)) {
        if (indent < contentIndent) loose = true;
        for (let k = i; k < j; k++) items[items.length - 1].push('');
        i = j;
        continue;
      }
      break;
    }
    const indent = line.length - line.trimStart().length;
    if (indent >= contentIndent || (indent > baseIndent && !m) || !startsBlock(lines, i)) {
      // Continuation: nested content, or a lazy paragraph line.
      items[items.length - 1].push(line.slice(Math.min(indent, contentIndent)));
      i++;
      continue;
    }
    break;
  }
  const tag = ordered ? 'ol' : 'ul';
  let html = `<${tag}${ordered && startNum !== 1 ? ` start="${startNum}"` : ''}>`;
  for (const item of items) {
    const hasBlank = item.slice(0, -1).some(isBlank);
    html += `<li>${renderBlocks(item, opts, !(loose || hasBlank))}</li>`;
  }
  return { html: html + `</${tag}>`, next: i };
}

/** Keeps a link target only when it cannot run script: http(s), mailto, or relative. */
export function safeURL(raw: string): string | null {
  // eslint-disable-next-line no-control-regex
  const url = raw.replace(/[\u0000-\u0020\u007f]/g, '');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (scheme && !/^(https?|mailto)$/i.test(scheme[1])) return null;
  return url;
}

/** Renders inline Markdown: code spans, links, emphasis, strikethrough, autolinks, escapes. */
export function inline(src: string): string {
  const held: string[] = [];
  const hold = (html: string) => `\u0000${held.push(html) - 1}\u0000`;
  let s = src.replace(/\u0000/g, '');
  // Code spans first: nothing inside them is Markdown.
  s = s.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, _t, code: string) => {
    const c = /^ .* $/.test(code) && code.trim() ? code.slice(1, -1) : code;
    return hold(`<code>${escapeHTML(c)}</code>`);
  });
  // Backslash escapes.
  s = s.replace(/\\([!-/:-@[-`{-~])/g, (_, c: string) => hold(escapeHTML(c)));
  // Images are shown as links: a chat should not load remote pictures on its own.
  s = s.replace(/!?\[([^\]\n]*)\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/g, (all, text: string, url: string) => {
    const u = safeURL(url);
    if (u === null) return hold(escapeHTML(text));
    return hold(`<a href="${escapeHTML(u)}" target="_blank" rel="noopener noreferrer">${inlineText(text || u)}</a>`);
  });
  s = s.replace(/<(https?:\/\/[^\s<>]+)>|\bhttps?:\/\/[^\s<>()\u0000]+[^\s<>()\u0000.,;:!?'"*_~]/g, (all, bracketed?: string) => {
    const u = bracketed || all;
    return hold(`<a href="${escapeHTML(u)}" target="_blank" rel="noopener noreferrer">${escapeHTML(u)}</a>`);
  });
  return restore(inlineText(s), held);
}

function restore(s: string, held: string[]): string {
  // Held pieces can contain other held pieces (link text with code); restore until none are left.
  for (let k = 0; k < 4 && s.includes('\u0000'); k++) s = s.replace(/\u0000(\d+)\u0000/g, (_, k) => held[+k]);
  return s;
}

/** Emphasis and strikethrough on already-protected text, then HTML-escaped. */
function inlineText(s: string): string {
  let h = escapeHTML(s);
  h = h.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '<strong>$2</strong>');
  h = h.replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?!\*)/g, '$1<em>$2</em>');
  h = h.replace(/(^|[^_\w])_(?=[^\s_])([^_]*?[^\s_])_(?![_\w])/g, '$1<em>$2</em>');
  h = h.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  return h;
}

/** renderMarkdown turns Markdown source into safe HTML. */
export function renderMarkdown(src: string, opts: MarkdownOptions = {}): string {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  return renderBlocks(lines, opts);
}
