// A model pull in progress. It lives outside the admin page so that switching tabs neither stops it nor
// loses its progress; cancelling aborts the request, which cancels the pull on the model server.

import { api, ndjson } from './api';
import { refreshModels } from './session.svelte';

export interface PullState {
  connectionId: string;
  name: string;
  status: string;
  digest: string;
  completed: number;
  total: number;
  percent: number;
  state: 'running' | 'success' | 'error' | 'cancelled';
  error: string;
}

interface Progress {
  status?: string;
  digest?: string;
  total?: number;
  completed?: number;
  error?: string;
}

export const pulls = $state({ current: null as PullState | null });

let ctrl: AbortController | null = null;

export async function startPull(connectionId: string, name: string): Promise<void> {
  if (pulls.current?.state === 'running') return;
  ctrl = new AbortController();
  const mine = ctrl;
  pulls.current = { connectionId, name, status: '', digest: '', completed: 0, total: 0, percent: 0, state: 'running', error: '' };
  const p = pulls.current;
  try {
    const resp = await api.pull(connectionId, name, mine.signal);
    for await (const line of ndjson<Progress>(resp.body!)) {
      if (line.error) {
        p.state = 'error';
        p.error = line.error;
        break;
      }
      if (line.status) p.status = line.status;
      if (line.digest && line.total) {
        p.digest = line.digest;
        p.total = line.total;
        p.completed = Math.min(line.completed || 0, line.total);
        p.percent = (p.completed / p.total) * 100;
      }
      if (line.status === 'success') {
        p.state = 'success';
        p.percent = 100;
      }
    }
    if (p.state === 'running') {
      p.state = 'error';
      p.error = 'the pull ended before it finished';
    }
  } catch (e) {
    if ((e as Error).name === 'AbortError') p.state = 'cancelled';
    else {
      p.state = 'error';
      p.error = (e as Error).message;
    }
  } finally {
    if (ctrl === mine) ctrl = null;
    refreshModels();
  }
}

export function cancelPull(): void {
  ctrl?.abort();
}
