// The valves form: fields generated from a pipeline's valves spec (JSON Schema as pydantic writes it, or
// Golem's equivalent), and the conversion between the form's text and the values the server takes.

import type { ValveProp, ValvesSpec } from './api';

export type ValveKind = 'integer' | 'number' | 'boolean' | 'string' | 'list' | 'choice';

export interface ValveField {
  name: string;
  title: string;
  description: string;
  kind: ValveKind;
  choices: string[];
  /** null is a value (Optional[...] in Python, a None default in Starlark). */
  nullable: boolean;
}

/** The JSON type of a property: its type, or the first non-null one of anyOf (Optional[int] and the like). */
function typeOf(p: ValveProp): { type: string; nullable: boolean; choices?: unknown[] } {
  if (p.type) return { type: p.type, nullable: p.default === null, choices: p.enum };
  const alts = p.anyOf || [];
  const real = alts.find((a) => a.type && a.type !== 'null');
  return {
    type: real?.type || 'string',
    nullable: alts.some((a) => a.type === 'null') || p.default === null,
    choices: p.enum || real?.enum,
  };
}

/** fields lists the form's fields in the spec's order (the order the pipeline declares them). */
export function fields(spec: ValvesSpec): ValveField[] {
  const out: ValveField[] = [];
  for (const [name, p] of Object.entries(spec.properties || {})) {
    const { type, nullable, choices } = typeOf(p);
    let kind: ValveKind = 'string';
    if (choices && choices.length) kind = 'choice';
    else if (type === 'integer' || type === 'number' || type === 'boolean') kind = type;
    else if (type === 'array') kind = 'list';
    out.push({
      name,
      title: p.title || name,
      description: p.description || '',
      kind,
      choices: (choices || []).map(String),
      nullable,
    });
  }
  return out;
}

/** toForm turns a value into what the field's input shows: text, or a boolean for a checkbox. */
export function toForm(f: ValveField, v: unknown): string | boolean {
  if (f.kind === 'boolean') return v === true;
  if (v === null || v === undefined) return '';
  if (f.kind === 'list') return Array.isArray(v) ? v.map(String).join(', ') : String(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A field whose text is not what its kind needs; the form words it in the page's language. */
export class ValveError extends Error {
  constructor(
    public field: string,
    public want: 'integer' | 'number',
  ) {
    super(`${field}: want ${want === 'integer' ? 'a whole number' : 'a number'}`);
  }
}

/** fromForm reads a field's input back into a value, or throws a ValveError. */
export function fromForm(f: ValveField, x: string | boolean): unknown {
  if (f.kind === 'boolean') return x === true;
  const s = String(x).trim();
  if (s === '' && f.nullable) return null;
  switch (f.kind) {
    case 'integer': {
      if (!/^[-+]?\d+$/.test(s)) throw new ValveError(f.title, 'integer');
      return Number(s);
    }
    case 'number': {
      const n = Number(s);
      if (s === '' || !Number.isFinite(n)) throw new ValveError(f.title, 'number');
      return n;
    }
    case 'list':
      return s
        .split(',')
        .map((w) => w.trim())
        .filter((w) => w !== '');
    default:
      return String(x);
  }
}
