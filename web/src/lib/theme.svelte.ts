// Light and dark themes: "system" follows the browser; the choice is kept in localStorage.

export type Theme = 'system' | 'light' | 'dark';

const KEY = 'golem.theme';

function stored(): Theme {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

export const theme = $state({ value: stored() });

export function applyTheme(): void {
  const root = document.documentElement;
  if (theme.value === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme.value;
}

export function setTheme(v: Theme): void {
  theme.value = v;
  if (v === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, v);
  applyTheme();
}

/** The theme actually shown, resolving "system". */
export function effectiveTheme(): 'light' | 'dark' {
  if (theme.value !== 'system') return theme.value;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}
