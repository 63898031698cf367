// A light syntax highlighter for code blocks in answers: one scan per block that marks comments, strings,
// numbers, keywords and function calls. Languages are grouped into a few families by comment and string
// syntax; each family has one keyword list. That is far from a parser, and meant to be: it costs a few KB
// instead of the hundreds a full highlighter would add to the page.

import { escapeHTML } from './escape';

interface Family {
  line: string[]; // line-comment openers
  block: [string, string][]; // block-comment delimiters
  strings: string[]; // string quotes (triple quotes first)
  keywords: Set<string>;
  ci?: boolean; // keywords are case-insensitive
}

const words = (s: string) => new Set(s.split(/\s+/).filter(Boolean));

const cKeywords = words(`
  abstract as async await break case catch chan class const continue def default defer delete do else enum
  export extends extern false final finally fn for func go goto if impl implements import in instanceof
  interface let loop map match mod move mut namespace new nil null override package private protected pub
  public range return select self Self static struct super switch this throw throws trait true try type
  typedef typeof union unsafe use var void volatile where while with yield undefined int float double char
  bool boolean string long short unsigned signed auto sizeof template typename readonly declare keyof
  satisfies fallthrough i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 usize isize str byte rune error uint uint8
  uint16 uint32 uint64 int8 int16 int32 int64 float32 float64 any of from get set`);

const pyKeywords = words(`
  and as assert async await break class continue def del elif else except False finally for from global if
  import in is lambda None nonlocal not or pass raise return True try while with yield match case self
  print len range int str float list dict set tuple bool type object super isinstance begin end module
  require then unless until do`);

const shKeywords = words(`
  if then else elif fi for while until do done case esac in function return exit export local readonly
  declare unset shift source echo printf cd ls cat grep sed awk curl wget sudo apt apt-get yum dnf pip
  npm go git docker kubectl helm make set true false test read eval exec trap`);

const sqlKeywords = words(`
  select from where and or not insert into values update set delete create table index view drop alter add
  column primary key foreign references join left right inner outer full on group by order having limit
  offset as distinct union all null is in exists between like case when then else end begin commit
  rollback transaction default unique check constraint integer int text varchar boolean timestamp bigint
  serial real double with returning count sum avg min max if function return declare local true false
  nil and or not repeat until elseif`);

const jsonKeywords = words('true false null');
const cssKeywords = words('important media import from to px em rem vh vw auto none inherit initial');

const cLike: Family = { line: ['//'], block: [['/*', '*/']], strings: ['"', "'", '`'], keywords: cKeywords };
const hashLike: Family = { line: ['#'], block: [], strings: ['"""', "'''", '"', "'"], keywords: pyKeywords };
const shell: Family = { line: ['#'], block: [], strings: ['"', "'"], keywords: shKeywords };
const sql: Family = { line: ['--'], block: [['/*', '*/']], strings: ["'", '"'], keywords: sqlKeywords, ci: true };
const json: Family = { line: [], block: [], strings: ['"'], keywords: jsonKeywords };
const markup: Family = { line: [], block: [['<!--', '-->']], strings: ['"', "'"], keywords: new Set() };
const css: Family = { line: [], block: [['/*', '*/']], strings: ['"', "'"], keywords: cssKeywords };

const families: Record<string, Family> = {};
for (const l of 'js javascript jsx mjs ts typescript tsx java c h cpp c++ cc hpp cs csharp go golang rust rs kotlin kt swift php scala dart zig proto protobuf groovy'.split(' '))
  families[l] = cLike;
for (const l of 'python py ruby rb yaml yml toml perl pl r makefile make dockerfile ini conf nim elixir ex'.split(' '))
  families[l] = hashLike;
for (const l of 'bash sh shell zsh console shellscript fish powershell ps1'.split(' ')) families[l] = shell;
for (const l of 'sql psql mysql postgres postgresql sqlite lua haskell hs'.split(' ')) families[l] = sql;
for (const l of 'json jsonc json5 ndjson'.split(' ')) families[l] = json;
for (const l of 'html xml svg svelte vue xhtml'.split(' ')) families[l] = markup;
for (const l of 'css scss less'.split(' ')) families[l] = css;

const isIdentStart = (c: string) => /[A-Za-z_$]/.test(c);
const isIdent = (c: string) => /[\w$-]/.test(c);

function span(cls: string, text: string): string {
  return `<span class="hl-${cls}">${escapeHTML(text)}</span>`;
}

/** highlight returns code as HTML, escaped, with <span class="hl-…"> around recognised tokens. */
export function highlight(code: string, lang: string): string {
  const fam = families[(lang || '').toLowerCase()];
  if (!fam) return escapeHTML(code);
  let out = '';
  let plain = '';
  const flush = () => {
    if (plain) out += escapeHTML(plain);
    plain = '';
  };
  const n = code.length;
  let i = 0;
  scan: while (i < n) {
    const c = code[i];
    for (const lc of fam.line) {
      if (code.startsWith(lc, i) && (lc !== '#' || fam !== shell || i === 0 || /\s/.test(code[i - 1]))) {
        let j = code.indexOf('\n', i);
        if (j < 0) j = n;
        flush();
        out += span('c', code.slice(i, j));
        i = j;
        continue scan;
      }
    }
    for (const [open, close] of fam.block) {
      if (code.startsWith(open, i)) {
        let j = code.indexOf(close, i + open.length);
        j = j < 0 ? n : j + close.length;
        flush();
        out += span('c', code.slice(i, j));
        i = j;
        continue scan;
      }
    }
    for (const q of fam.strings) {
      if (code.startsWith(q, i)) {
        let j = i + q.length;
        while (j < n && !code.startsWith(q, j)) {
          if (code[j] === '\\') j++;
          else if (code[j] === '\n' && q.length === 1 && q !== '`') break;
          j++;
        }
        j = Math.min(n, code.startsWith(q, j) ? j + q.length : j);
        flush();
        out += span('s', code.slice(i, j));
        i = j;
        continue scan;
      }
    }
    if (fam === markup && c === '<' && /[\w/!?]/.test(code[i + 1] || '')) {
      let j = i + 1;
      if (code[j] === '/') j++;
      while (j < n && isIdent(code[j])) j++;
      flush();
      out += '&lt;' + span('k', code.slice(i + 1, j));
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) && !(i > 0 && isIdent(code[i - 1]))) {
      const m = /^(0[xXbBoO][\da-fA-F_]+|\d[\d_]*(\.\d+)?([eE][+-]?\d+)?)[a-zA-Z]*/.exec(code.slice(i, i + 64));
      if (m) {
        flush();
        out += span('n', m[0]);
        i += m[0].length;
        continue;
      }
    }
    if (isIdentStart(c) && !(i > 0 && /[\w$]/.test(code[i - 1]))) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(code[j])) j++;
      const word = code.slice(i, j);
      const kw = fam.keywords.has(fam.ci ? word.toLowerCase() : word);
      if (kw) {
        flush();
        out += span('k', word);
      } else if (code[j] === '(' && fam !== json) {
        flush();
        out += span('f', word);
      } else {
        plain += word;
      }
      i = j;
      continue;
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}
