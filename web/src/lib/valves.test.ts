import { describe, expect, it } from 'vitest';
import { fields, fromForm, toForm } from './valves';

// A spec as pydantic writes it for a Python pipeline's Valves (properties in declaration order).
const pydantic = {
  title: 'Valves',
  type: 'object',
  properties: {
    pipelines: { title: 'Pipelines', type: 'array', items: { type: 'string' }, default: ['*'] },
    priority: { title: 'Priority', type: 'integer', default: 0 },
    temperature: { title: 'Temperature', type: 'number', default: 0.5 },
    enabled: { title: 'Enabled', type: 'boolean', default: true },
    mode: { title: 'Mode', type: 'string', enum: ['mask', 'block'], default: 'mask' },
    api_key: { title: 'Api Key', default: null, anyOf: [{ type: 'string' }, { type: 'null' }] },
    limit: { title: 'Limit', default: null, anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'per minute' },
  },
  required: [],
};

describe('valves form', () => {
  it('makes one field per property, in order, with its kind', () => {
    const fs = fields(pydantic);
    expect(fs.map((f) => `${f.name}:${f.kind}${f.nullable ? '?' : ''}`)).toEqual([
      'pipelines:list',
      'priority:integer',
      'temperature:number',
      'enabled:boolean',
      'mode:choice',
      'api_key:string?',
      'limit:integer?',
    ]);
    expect(fs[4].choices).toEqual(['mask', 'block']);
    expect(fs[6].description).toBe('per minute');
    expect(fields({})).toEqual([]);
  });

  it('round-trips values through the inputs', () => {
    const fs = Object.fromEntries(fields(pydantic).map((f) => [f.name, f]));
    expect(toForm(fs.pipelines, ['llama3', '*'])).toBe('llama3, *');
    expect(fromForm(fs.pipelines, ' llama3 , ,* ')).toEqual(['llama3', '*']);
    expect(fromForm(fs.pipelines, '')).toEqual([]);
    expect(fromForm(fs.priority, ' -3 ')).toBe(-3);
    expect(fromForm(fs.temperature, '0.25')).toBe(0.25);
    expect(toForm(fs.enabled, true)).toBe(true);
    expect(fromForm(fs.enabled, false)).toBe(false);
    expect(toForm(fs.api_key, null)).toBe('');
    expect(fromForm(fs.api_key, '')).toBeNull();
    expect(fromForm(fs.limit, '')).toBeNull();
    expect(fromForm(fs.limit, '7')).toBe(7);
    expect(fromForm(fs.mode, 'block')).toBe('block');
  });

  it('refuses what is not a number, naming the field', () => {
    const fs = Object.fromEntries(fields(pydantic).map((f) => [f.name, f]));
    expect(() => fromForm(fs.priority, '1.5')).toThrow('Priority');
    expect(() => fromForm(fs.priority, '')).toThrow('Priority');
    expect(() => fromForm(fs.temperature, 'warm')).toThrow('Temperature');
  });
});
