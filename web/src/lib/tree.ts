// The chat's messages form a tree (API.md): each message knows its parent and its children, and the
// branch on screen is the path from a root down to the chat's current_id.

import type { Message } from './api';

export type Tree = Map<string, Message>;

export function buildTree(messages: Message[]): Tree {
  const tree: Tree = new Map();
  for (const m of messages) tree.set(m.id, { ...m, children_ids: [...(m.children_ids || [])] });
  return tree;
}

/** The root messages (parent_id null) in creation order. */
export function roots(tree: Tree): string[] {
  const r: Message[] = [];
  for (const m of tree.values()) if (m.parent_id === null || !tree.has(m.parent_id)) r.push(m);
  r.sort((a, b) => a.created_at - b.created_at);
  return r.map((m) => m.id);
}

/** The path from the root down to id (inclusive), or [] when id is unknown. */
export function pathTo(tree: Tree, id: string | null): Message[] {
  const path: Message[] = [];
  const seen = new Set<string>();
  let m = id ? tree.get(id) : undefined;
  while (m && !seen.has(m.id)) {
    seen.add(m.id);
    path.push(m);
    m = m.parent_id ? tree.get(m.parent_id) : undefined;
  }
  return path.reverse();
}

/** The message's siblings (itself included), in creation order: the branches one can switch between. */
export function siblings(tree: Tree, id: string): string[] {
  const m = tree.get(id);
  if (!m) return [];
  if (m.parent_id && tree.has(m.parent_id)) return tree.get(m.parent_id)!.children_ids;
  return roots(tree);
}

/** Follows the latest child from id down to a leaf: where switching to branch id lands. */
export function latestLeaf(tree: Tree, id: string): string {
  const seen = new Set<string>();
  let cur = id;
  for (;;) {
    const m = tree.get(cur);
    if (!m || seen.has(cur)) return cur;
    seen.add(cur);
    const kids = m.children_ids.filter((k) => tree.has(k));
    if (!kids.length) return cur;
    cur = kids[kids.length - 1];
  }
}

/** Adds a message under its parent (keeping the parent's children list in step). */
export function insert(tree: Tree, m: Message): void {
  tree.set(m.id, { ...m, children_ids: [...(m.children_ids || [])] });
  if (m.parent_id) {
    const p = tree.get(m.parent_id);
    if (p && !p.children_ids.includes(m.id)) p.children_ids = [...p.children_ids, m.id];
  }
}
