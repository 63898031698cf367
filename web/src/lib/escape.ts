const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** escapeHTML makes text safe to place in HTML, in element content and in quoted attributes. */
export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => entities[c]);
}
