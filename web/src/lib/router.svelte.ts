// A small history-API router: the backend serves index.html for every unknown path, so client routes
// such as /c/<chat id> and /admin/models survive a reload.

export const route = $state({ path: location.pathname });

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route.path = path;
}

addEventListener('popstate', () => (route.path = location.pathname));

// Plain <a href="/…"> links inside the app navigate without a page load.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  if (a.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(a.pathname);
});
