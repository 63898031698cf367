/** Human-readable byte counts: 1.2 GB, 340 MB (decimal units, as Ollama prints them). */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || n === null || !isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function formatDate(ms: number, locale: string): string {
  if (!ms) return '';
  return new Date(ms).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A model's value in a <select>: connection and model id together, since names repeat across servers. */
export function modelKey(connectionId: string, id: string): string {
  return `${connectionId}\u0001${id}`;
}

export function parseModelKey(key: string): { connection_id: string; id: string } | null {
  const i = key.indexOf('\u0001');
  if (i < 0) return null;
  return { connection_id: key.slice(0, i), id: key.slice(i + 1) };
}
