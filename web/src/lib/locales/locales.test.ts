import { describe, expect, it } from 'vitest';
import { en } from './en';
import { zhCN } from './zh-CN';

const holes = (s: string) => (s.match(/\{\w+\}/g) || []).sort();

describe('locales', () => {
  it('Chinese has every English key, no more, each non-empty', () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
    for (const [k, v] of Object.entries(zhCN)) expect(v.trim(), k).not.toBe('');
  });

  it('placeholders match between the languages', () => {
    for (const k of Object.keys(en) as (keyof typeof en)[]) expect(holes(zhCN[k]), k).toEqual(holes(en[k]));
  });
});
