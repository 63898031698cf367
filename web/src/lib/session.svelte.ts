// What the whole page shares: the server's config, the signed-in user, the model list and the chat list.

import { api, type Chat, type Config, type Model, type User } from './api';

export const session = $state({
  config: null as Config | null,
  user: null as User | null,
  models: [] as Model[],
  modelErrors: [] as { connection_id: string; detail: string }[],
  modelsLoaded: false,
  chats: [] as Chat[],
  chatQuery: '',
  sidebarOpen: false,
});

let chatSeq = 0;

/** Reloads the history list (with the sidebar's search). Late answers to older searches are dropped. */
export async function refreshChats(): Promise<void> {
  const seq = ++chatSeq;
  try {
    const { chats } = await api.chats(session.chatQuery);
    if (seq === chatSeq) session.chats = chats;
  } catch {
    /* the list stays as it was; the next action refreshes it */
  }
}

export async function refreshModels(): Promise<void> {
  try {
    const list = await api.models();
    session.models = list.data || [];
    session.modelErrors = list.errors || [];
  } catch (e) {
    session.modelErrors = [{ connection_id: '', detail: (e as Error).message }];
  }
  session.modelsLoaded = true;
}

export function signedOut(): void {
  session.user = null;
  session.chats = [];
  session.models = [];
  session.modelsLoaded = false;
}
