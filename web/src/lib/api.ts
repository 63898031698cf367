// The backend's JSON API (internal/webui/API.md). The session is the HttpOnly `token` cookie the server
// sets on sign-in, so nothing secret is kept in the page.

export type Role = 'admin' | 'user' | 'pending';

export interface Config {
  name: string;
  version: string;
  enable_signup: boolean;
  onboarding: boolean;
  trusted_header_auth: boolean;
  default_locale: string;
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  created_at: number;
}

export interface Settings {
  enable_signup: boolean;
  default_user_role: 'user' | 'pending';
  env: { enable_signup: boolean; default_user_role: boolean };
}

export interface Connection {
  id: string;
  type: 'ollama' | 'openai';
  name: string;
  url: string;
  has_key: boolean;
  key_hint: string;
  enabled: boolean;
  builtin: boolean;
  env: boolean;
  pipelines: boolean;
}

export interface VerifyResult {
  ok: boolean;
  version?: string;
  models?: number;
  pipelines?: boolean;
}

export interface Model {
  id: string;
  name: string;
  owned_by?: string;
  connection_id: string;
  connection_type: 'ollama' | 'openai';
  connection_name: string;
  pipelines?: boolean;
  pipeline?: { type: string };
  size?: number;
  modified_at?: string;
  details?: { family?: string; parameter_size?: string; quantization_level?: string };
}

/** A connection that is a Pipelines server. */
export interface PipelinesServer {
  connection_id: string;
  name: string;
  url: string;
  enabled: boolean;
}

/** One installed pipeline, with what the server's model list says about it. */
export interface Pipeline {
  id: string;
  name: string;
  type: string; // filter, pipe or manifold
  description?: string;
  valves: boolean;
  pipelines?: string[]; // filters: the models they apply to
  priority?: number; // filters
  models?: { id: string; name: string }[]; // pipes and manifolds
}

/** One property of a valves spec (JSON Schema, as pydantic writes it). */
export interface ValveProp {
  title?: string;
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: { type?: string };
  anyOf?: { type?: string; enum?: unknown[] }[];
}

export interface ValvesSpec {
  properties?: Record<string, ValveProp>;
  required?: string[];
}

export interface ModelList {
  data: Model[];
  errors?: { connection_id: string; detail: string }[];
}

export interface Params {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  seed?: number;
  num_ctx?: number;
  num_predict?: number;
  stop?: string[];
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_duration_ms?: number;
}

export interface Message {
  id: string;
  parent_id: string | null;
  children_ids: string[];
  role: 'user' | 'assistant';
  content: string;
  model: string;
  connection_id: string;
  created_at: number;
  done: boolean;
  stopped: boolean;
  error: string;
  usage: Usage | null;
}

export interface Chat {
  id: string;
  title: string;
  model: string;
  connection_id: string;
  system: string;
  params: Params;
  current_id: string | null;
  created_at: number;
  updated_at: number;
  messages?: Message[];
}

/** An error answer from the API: the HTTP status and the server's `detail`. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: string,
    public retryAfter = 0,
  ) {
    super(detail);
  }
}

async function failure(resp: Response): Promise<ApiError> {
  let detail = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && typeof body.detail === 'string') detail = body.detail;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(resp.status, detail, Number(resp.headers.get('Retry-After') || 0));
}

/** request sends one API call and returns the response once it is known to be a success. */
export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const init: RequestInit = { method, credentials: 'same-origin', signal, headers: { Accept: 'application/json' } };
  if (body instanceof FormData) {
    init.body = body; // the browser writes the multipart Content-Type with its boundary
  } else if (body !== undefined) {
    init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let resp: Response;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, (e as Error).message || 'network error');
  }
  if (!resp.ok) {
    const err = await failure(resp);
    if (err.status === 401) unauthorized();
    throw err;
  }
  return resp;
}

let unauthorized: () => void = () => {};

/** onUnauthorized sets what happens when the server says the session is gone (expired, signed out
 * elsewhere, account deleted): the page returns to the sign-in form. */
export function onUnauthorized(fn: () => void): void {
  unauthorized = fn;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const resp = await request(method, path, body);
  return (await resp.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  config: () => json<Config>('GET', '/api/v1/config'),
  me: () => json<User>('GET', '/api/v1/auths/'),
  signup: (name: string, email: string, password: string) =>
    json<User>('POST', '/api/v1/auths/signup', { name, email, password }),
  signin: (email: string, password: string) => json<User>('POST', '/api/v1/auths/signin', { email, password }),
  signout: () => json<{ ok: boolean }>('POST', '/api/v1/auths/signout'),
  apiKey: () => json<{ exists: boolean; prefix?: string; created_at?: number }>('GET', '/api/v1/auths/api_key'),
  newApiKey: () => json<{ api_key: string; created_at: number }>('POST', '/api/v1/auths/api_key'),
  deleteApiKey: () => json<{ ok: boolean }>('DELETE', '/api/v1/auths/api_key'),
  changePassword: (password: string, new_password: string) =>
    json<{ ok: boolean }>('POST', '/api/v1/auths/update/password', { password, new_password }),

  users: () => json<{ users: User[] }>('GET', '/api/v1/users'),
  setRole: (id: string, role: Role) => json<User>('POST', `/api/v1/users/${enc(id)}/role`, { role }),
  deleteUser: (id: string) => json<{ ok: boolean }>('DELETE', `/api/v1/users/${enc(id)}`),
  resetPassword: (id: string, password: string) =>
    json<{ ok: boolean }>('POST', `/api/v1/users/${enc(id)}/password`, { password }),

  settings: () => json<Settings>('GET', '/api/v1/settings'),
  saveSettings: (s: Partial<Omit<Settings, 'env'>>) => json<Settings>('POST', '/api/v1/settings', s),

  connections: () => json<{ connections: Connection[] }>('GET', '/api/v1/connections'),
  addConnection: (c: { type: string; url: string; name?: string; key?: string }) =>
    json<Connection>('POST', '/api/v1/connections', c),
  updateConnection: (id: string, c: { url?: string; name?: string; key?: string; enabled?: boolean }) =>
    json<Connection>('PUT', `/api/v1/connections/${enc(id)}`, c),
  deleteConnection: (id: string) => json<{ ok: boolean }>('DELETE', `/api/v1/connections/${enc(id)}`),
  verifyConnection: (id: string) => json<VerifyResult>('POST', `/api/v1/connections/${enc(id)}/verify`),
  verifyURL: (c: { type: string; url: string; key?: string }) =>
    json<VerifyResult>('POST', '/api/v1/connections/verify', c),

  models: () => json<ModelList>('GET', '/api/v1/models'),
  deleteModel: (connectionId: string, name: string) =>
    json<{ ok: boolean }>('DELETE', `/api/v1/models?connection_id=${enc(connectionId)}&name=${enc(name)}`),
  pull: (connectionId: string, name: string, signal: AbortSignal) =>
    request('POST', '/api/v1/models/pull', { connection_id: connectionId, name }, signal),

  pipelineServers: () => json<{ data: PipelinesServer[] }>('GET', '/api/v1/pipelines/list'),
  pipelines: (conn: string) => json<{ data: Pipeline[] }>('GET', `/api/v1/pipelines?connection_id=${enc(conn)}`),
  uploadPipeline: (conn: string, file: File) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return json<{ ok: boolean }>('POST', `/api/v1/pipelines/upload?connection_id=${enc(conn)}`, form);
  },
  addPipeline: (conn: string, url: string) =>
    json<{ ok: boolean }>('POST', `/api/v1/pipelines/add?connection_id=${enc(conn)}`, { url }),
  deletePipeline: (conn: string, id: string) =>
    json<{ ok: boolean }>('DELETE', `/api/v1/pipelines/${enc(id)}?connection_id=${enc(conn)}`),
  reloadPipelines: (conn: string) => json<{ ok: boolean }>('POST', `/api/v1/pipelines/reload?connection_id=${enc(conn)}`),
  valves: (conn: string, id: string) =>
    json<Record<string, unknown>>('GET', `/api/v1/pipelines/${enc(id)}/valves?connection_id=${enc(conn)}`),
  valvesSpec: (conn: string, id: string) =>
    json<ValvesSpec>('GET', `/api/v1/pipelines/${enc(id)}/valves/spec?connection_id=${enc(conn)}`),
  updateValves: (conn: string, id: string, values: Record<string, unknown>) =>
    json<Record<string, unknown>>('POST', `/api/v1/pipelines/${enc(id)}/valves/update?connection_id=${enc(conn)}`, values),

  chats: (q = '', limit = 100) => json<{ chats: Chat[] }>('GET', `/api/v1/chats?q=${enc(q)}&limit=${limit}`),
  chat: (id: string) => json<Chat>('GET', `/api/v1/chats/${enc(id)}`),
  newChat: (c: Partial<Chat>) => json<Chat>('POST', '/api/v1/chats', c),
  patchChat: (id: string, c: Partial<Chat>) => json<Chat>('PATCH', `/api/v1/chats/${enc(id)}`, c),
  deleteChat: (id: string) => json<{ ok: boolean }>('DELETE', `/api/v1/chats/${enc(id)}`),
  exportURL: (id: string, format: 'json' | 'markdown') => `/api/v1/chats/${enc(id)}/export?format=${format}`,
  complete: (
    id: string,
    body: { parent_id: string | null; content?: string; model?: string; connection_id?: string },
    signal: AbortSignal,
  ) => request('POST', `/api/v1/chats/${enc(id)}/completions`, body, signal),
};

/** One server-sent event. */
export interface SSEvent {
  event: string;
  data: string;
}

/**
 * Splits a text stream into lines as they arrive, whatever the chunking: a line is handed on only once
 * its newline has been read (or at the end of the stream).
 */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        let line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        yield line;
      }
    }
    buf += decoder.decode();
    if (buf) yield buf;
  } finally {
    reader.releaseLock();
  }
}

/** Parses a text/event-stream body (comments ignored, multi-line data joined with newlines). */
export async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEvent> {
  let event = '';
  let data: string[] = [];
  for await (const line of lines(body)) {
    if (line === '') {
      if (data.length) yield { event: event || 'message', data: data.join('\n') };
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length) yield { event: event || 'message', data: data.join('\n') };
}

/** Parses an NDJSON body, one object per non-empty line. */
export async function* ndjson<T>(body: ReadableStream<Uint8Array>): AsyncGenerator<T> {
  for await (const line of lines(body)) {
    if (line.trim()) yield JSON.parse(line) as T;
  }
}
