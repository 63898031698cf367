import { describe, expect, it } from 'vitest';
import type { Message } from './api';
import { buildTree, insert, latestLeaf, pathTo, roots, siblings } from './tree';

let clock = 0;
function msg(id: string, parent: string | null, kids: string[] = [], role: 'user' | 'assistant' = 'user'): Message {
  return { id, parent_id: parent, children_ids: kids, role, content: id, model: '', connection_id: '', created_at: ++clock, done: true, stopped: false, error: '', usage: null };
}

// u1 ─ a1
//    └ a2 ─ u2
// u1b (an edited first message: a second root)
const tree = buildTree([
  msg('u1', null, ['a1', 'a2']),
  msg('a1', 'u1', [], 'assistant'),
  msg('a2', 'u1', ['u2'], 'assistant'),
  msg('u2', 'a2'),
  msg('u1b', null),
]);

describe('message tree', () => {
  it('walks from the root to a message', () => {
    expect(pathTo(tree, 'u2').map((m) => m.id)).toEqual(['u1', 'a2', 'u2']);
    expect(pathTo(tree, 'nope')).toEqual([]);
    expect(pathTo(tree, null)).toEqual([]);
  });

  it('lists siblings, roots included', () => {
    expect(siblings(tree, 'a1')).toEqual(['a1', 'a2']);
    expect(siblings(tree, 'u1b')).toEqual(['u1', 'u1b']);
    expect(roots(tree)).toEqual(['u1', 'u1b']);
  });

  it('follows the latest child to a leaf', () => {
    expect(latestLeaf(tree, 'u1')).toBe('u2');
    expect(latestLeaf(tree, 'a1')).toBe('a1');
  });

  it('insert links a new message under its parent once', () => {
    const t = buildTree([msg('r', null)]);
    const child = msg('c', 'r', [], 'assistant');
    insert(t, child);
    insert(t, child);
    expect(t.get('r')!.children_ids).toEqual(['c']);
    expect(pathTo(t, 'c').map((m) => m.id)).toEqual(['r', 'c']);
  });

  it('survives a cycle in bad data', () => {
    const t = buildTree([msg('x', 'y', ['y']), msg('y', 'x', ['x'])]);
    expect(pathTo(t, 'x').length).toBe(2);
    expect(latestLeaf(t, 'x')).toBeTypeOf('string');
  });
});
