// English and Simplified Chinese. The English table is the list of keys: the Chinese one is typed
// against it, so a missing translation is a type error (npm run check) and a unit test failure.

import { en } from './locales/en';
import { zhCN } from './locales/zh-CN';

export type Key = keyof typeof en;
export type Locale = 'en' | 'zh-CN';

export const locales: { id: Locale; label: string }[] = [
  { id: 'en', label: 'English' },
  { id: 'zh-CN', label: '简体中文' },
];

const tables: Record<Locale, Record<Key, string>> = { en, 'zh-CN': zhCN };
const KEY = 'golem.locale';

/** The locale for a language tag: any Chinese tag gets Simplified Chinese, everything else English. */
export function pickLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  if (/^zh\b/i.test(tag)) return 'zh-CN';
  if (/^en\b/i.test(tag)) return 'en';
  return null;
}

export const i18n = $state({ locale: (pickLocale(localStorage.getItem(KEY)) || pickLocale(navigator.language) || 'en') as Locale });

/** Called once the server's config is known: its default applies only if the user never chose. */
export function initLocale(serverDefault: string): void {
  if (localStorage.getItem(KEY)) return;
  const l = pickLocale(serverDefault);
  if (l) i18n.locale = l;
  document.documentElement.lang = i18n.locale;
}

export function setLocale(l: Locale): void {
  i18n.locale = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}

/** t looks a text up in the current locale; {name} placeholders take vars. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  let s = tables[i18n.locale][key] ?? en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}
