package db

// Schema is the web UI's schema, oldest step first. Times are Unix milliseconds; booleans are BOOLEAN
// (SQLite stores 0/1); JSON documents are TEXT. Append new steps; never edit a released one.
var Schema = []Migration{
	{Version: 1, Name: "accounts, settings, connections, chats", SQL: `
CREATE TABLE config (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE api_keys (
	user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	hash       TEXT NOT NULL UNIQUE,
	prefix     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE login_failures (
	key TEXT NOT NULL,
	at  BIGINT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE TABLE connections (
	id         TEXT PRIMARY KEY,
	type       TEXT NOT NULL,
	name       TEXT NOT NULL,
	url        TEXT NOT NULL,
	api_key    TEXT NOT NULL,
	enabled    BOOLEAN NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE connection_state (
	id         TEXT PRIMARY KEY,
	pipelines  BOOLEAN NOT NULL,
	checked_at BIGINT NOT NULL
);
CREATE TABLE chats (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	title         TEXT NOT NULL,
	model         TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	system        TEXT NOT NULL,
	params        TEXT NOT NULL,
	current_id    TEXT,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX chats_user_updated ON chats (user_id, updated_at);
CREATE TABLE messages (
	id            TEXT PRIMARY KEY,
	chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
	parent_id     TEXT,
	seq           BIGINT NOT NULL,
	role          TEXT NOT NULL,
	content       TEXT NOT NULL,
	model         TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	done          BOOLEAN NOT NULL,
	stopped       BOOLEAN NOT NULL,
	error         TEXT NOT NULL,
	usage         TEXT NOT NULL
);
CREATE INDEX messages_chat_seq ON messages (chat_id, seq);
`},
}
