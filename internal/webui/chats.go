package webui

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/auth"
	"github.com/golem-llm/golem/internal/db"
)

// Chat is a conversation. Its messages form a tree; CurrentID is the leaf of the branch on screen.
type Chat struct {
	ID           string         `json:"id"`
	Title        string         `json:"title"`
	Model        string         `json:"model"`
	ConnectionID string         `json:"connection_id"`
	System       string         `json:"system"`
	Params       map[string]any `json:"params"`
	CurrentID    *string        `json:"current_id"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
}

// Message is one node of a chat's tree.
type Message struct {
	ID           string          `json:"id"`
	ParentID     *string         `json:"parent_id"`
	ChildrenIDs  []string        `json:"children_ids"`
	Role         string          `json:"role"`
	Content      string          `json:"content"`
	Model        string          `json:"model"`
	ConnectionID string          `json:"connection_id"`
	CreatedAt    int64           `json:"created_at"`
	Done         bool            `json:"done"`
	Stopped      bool            `json:"stopped"`
	Error        string          `json:"error"`
	Usage        json.RawMessage `json:"usage"`
	seq          int64
}

type chatWithMessages struct {
	Chat
	Messages []Message `json:"messages"`
}

const defaultTitle = "New chat"

const chatCols = `id, title, model, connection_id, system, params, current_id, created_at, updated_at`

func scanChat(row interface{ Scan(...any) error }) (Chat, error) {
	var c Chat
	var params string
	var cur sql.NullString
	if err := row.Scan(&c.ID, &c.Title, &c.Model, &c.ConnectionID, &c.System, &params, &cur, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return c, err
	}
	if cur.Valid {
		c.CurrentID = &cur.String
	}
	c.Params = map[string]any{}
	if err := json.Unmarshal([]byte(params), &c.Params); err != nil {
		return c, fmt.Errorf("chat %s: stored params: %w", c.ID, err)
	}
	return c, nil
}

// loadChat returns the user's chat, or 404 (also for another user's chat).
func (h *Handler) loadChat(ctx context.Context, userID, id string) (Chat, error) {
	c, err := scanChat(h.db.QueryRow(ctx, `SELECT `+chatCols+` FROM chats WHERE id = ? AND user_id = ?`, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, errorf(404, "no chat %q", id)
	}
	return c, err
}

// chatAndMessages loads the user's chat with its messages.
func (h *Handler) chatAndMessages(ctx context.Context, userID, id string) (Chat, []Message, error) {
	c, err := h.loadChat(ctx, userID, id)
	if err != nil {
		return c, nil, err
	}
	ms, err := h.messages(ctx, c.ID)
	return c, ms, err
}

// messages loads a chat's messages in creation order, with each one's children filled in.
func (h *Handler) messages(ctx context.Context, chatID string) ([]Message, error) {
	rows, err := h.db.Query(ctx, `SELECT id, parent_id, role, content, model, connection_id, created_at, done, stopped,
		error, usage, seq FROM messages WHERE chat_id = ? ORDER BY seq, id`, chatID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ms := []Message{}
	at := map[string]int{}
	for rows.Next() {
		var m Message
		var parent sql.NullString
		var usage string
		if err := rows.Scan(&m.ID, &parent, &m.Role, &m.Content, &m.Model, &m.ConnectionID, &m.CreatedAt, &m.Done,
			&m.Stopped, &m.Error, &usage, &m.seq); err != nil {
			return nil, err
		}
		if parent.Valid {
			m.ParentID = &parent.String
		}
		if usage != "" {
			m.Usage = json.RawMessage(usage)
		}
		m.ChildrenIDs = []string{}
		at[m.ID] = len(ms)
		ms = append(ms, m)
	}
	for _, m := range ms {
		if m.ParentID != nil {
			if i, ok := at[*m.ParentID]; ok {
				ms[i].ChildrenIDs = append(ms[i].ChildrenIDs, m.ID)
			}
		}
	}
	return ms, rows.Err()
}

// branch returns the path from the root to the message id (inclusive), oldest first.
func branch(ms []Message, id string) []Message {
	by := make(map[string]int, len(ms))
	for i, m := range ms {
		by[m.ID] = i
	}
	var path []Message
	for cur, ok := id, true; ok && len(path) <= len(ms); {
		i, found := by[cur]
		if !found {
			break
		}
		path = append(path, ms[i])
		ok = ms[i].ParentID != nil
		if ok {
			cur = *ms[i].ParentID
		}
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// Parameters a chat may set, and whether each must be a whole number.
var paramKinds = map[string]bool{
	"temperature": false, "top_p": false, "min_p": false, "repeat_penalty": false,
	"presence_penalty": false, "frequency_penalty": false,
	"top_k": true, "seed": true, "num_ctx": true, "num_predict": true,
}

// checkParams validates per-chat parameters: known names, numbers (whole where needed), stop strings.
func checkParams(p map[string]any) error {
	for k, v := range p {
		if k == "stop" {
			list, ok := v.([]any)
			if !ok || len(list) > 16 {
				return errorf(400, "params.stop: want an array of at most 16 strings")
			}
			for _, s := range list {
				if str, ok := s.(string); !ok || str == "" || len(str) > 200 {
					return errorf(400, "params.stop: want non-empty strings of at most 200 bytes")
				}
			}
			continue
		}
		whole, known := paramKinds[k]
		if !known {
			return errorf(400, "params.%s: unknown parameter", k)
		}
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return errorf(400, "params.%s: want a number", k)
		}
		if whole && (f != math.Trunc(f) || math.Abs(f) > 1<<53) {
			return errorf(400, "params.%s: want a whole number", k)
		}
	}
	return nil
}

type chatInput struct {
	Title        *string         `json:"title"`
	Model        *string         `json:"model"`
	ConnectionID *string         `json:"connection_id"`
	System       *string         `json:"system"`
	Params       *map[string]any `json:"params"`
	CurrentID    *string         `json:"current_id"`
}

func (in chatInput) apply(c *Chat) error {
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		if len([]rune(t)) > 200 {
			return errorf(400, "title is longer than 200 characters")
		}
		if t == "" {
			t = defaultTitle
		}
		c.Title = t
	}
	if in.Model != nil {
		if len(*in.Model) > 500 {
			return errorf(400, "model name too long")
		}
		c.Model = *in.Model
	}
	if in.ConnectionID != nil {
		c.ConnectionID = *in.ConnectionID
	}
	if in.System != nil {
		if len(*in.System) > 64<<10 {
			return errorf(400, "system prompt is longer than 64 KiB")
		}
		c.System = *in.System
	}
	if in.Params != nil {
		p := *in.Params
		if p == nil {
			p = map[string]any{}
		}
		if err := checkParams(p); err != nil {
			return err
		}
		c.Params = p
	}
	return nil
}

func (h *Handler) createChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in chatInput
	if err := decodeJSON(w, r, &in, maxBody, true); err != nil {
		return err
	}
	if in.CurrentID != nil {
		return errorf(400, "current_id: a new chat has no messages")
	}
	now := time.Now().UnixMilli()
	c := Chat{ID: auth.NewID(), Title: defaultTitle, Params: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&c); err != nil {
		return err
	}
	params, _ := json.Marshal(c.Params)
	if _, err := h.db.Exec(r.Context(), `INSERT INTO chats (`+chatCols+`, user_id) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
		c.ID, c.Title, c.Model, c.ConnectionID, c.System, string(params), c.CreatedAt, c.UpdatedAt, p.ID); err != nil {
		return err
	}
	writeJSON(w, 201, c)
	return nil
}

func (h *Handler) getChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, ms, err := h.chatAndMessages(r.Context(), p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, chatWithMessages{Chat: c, Messages: ms})
	return nil
}

func (h *Handler) patchChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in chatInput
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := h.loadChat(ctx, p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := in.apply(&c); err != nil {
		return err
	}
	if in.CurrentID != nil {
		var one int
		err := h.db.QueryRow(ctx, `SELECT 1 FROM messages WHERE id = ? AND chat_id = ?`, *in.CurrentID, c.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errorf(400, "current_id %q is not a message of this chat", *in.CurrentID)
		}
		if err != nil {
			return err
		}
		c.CurrentID = in.CurrentID
	}
	c.UpdatedAt = time.Now().UnixMilli()
	params, _ := json.Marshal(c.Params)
	if _, err := h.db.Exec(ctx, `UPDATE chats SET title = ?, model = ?, connection_id = ?, system = ?, params = ?,
		current_id = ?, updated_at = ? WHERE id = ? AND user_id = ?`, c.Title, c.Model, c.ConnectionID, c.System,
		string(params), c.CurrentID, c.UpdatedAt, c.ID, p.ID); err != nil {
		return err
	}
	writeJSON(w, 200, c)
	return nil
}

func (h *Handler) deleteChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, err := h.loadChat(r.Context(), p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	// Messages go with the chat (ON DELETE CASCADE).
	if _, err := h.db.Exec(r.Context(), `DELETE FROM chats WHERE id = ? AND user_id = ?`, c.ID, p.ID); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
	return nil
}

// likePattern makes a case-insensitive substring pattern, with LIKE's wildcards in q taken literally.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

func (h *Handler) listChats(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q := r.URL.Query()
	limit, offset := 50, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return errorf(400, "limit %q: want 1 to 200", s)
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errorf(400, "offset %q: want a whole number ≥ 0", s)
		}
		offset = n
	}
	query := `SELECT ` + chatCols + ` FROM chats c WHERE user_id = ?`
	args := []any{p.ID}
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		if len(s) > 500 {
			return errorf(400, "search text is longer than 500 bytes")
		}
		pat := likePattern(s)
		query += ` AND (LOWER(title) LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM messages m
			WHERE m.chat_id = c.id AND LOWER(m.content) LIKE ? ESCAPE '\'))`
		args = append(args, pat, pat)
	}
	// Changes in the same millisecond: the chat created later first.
	query += ` ORDER BY updated_at DESC, created_at DESC, id LIMIT ? OFFSET ?`
	args = append(args, limit, offset)
	rows, err := h.db.Query(r.Context(), query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	chats := []Chat{}
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			return err
		}
		chats = append(chats, c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"chats": chats})
	return nil
}

var unsafeName = regexp.MustCompile(`[^\p{L}\p{N}._ -]+`)

func (h *Handler) exportChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "markdown" {
		return errorf(400, "format %q: want json or markdown", format)
	}
	c, ms, err := h.chatAndMessages(r.Context(), p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	name := strings.TrimSpace(unsafeName.ReplaceAllString(c.Title, ""))
	if name == "" {
		name = "chat"
	}
	name = clip(name, 80)
	if format == "json" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		writeJSON(w, 200, chatWithMessages{Chat: c, Messages: ms})
		return nil
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.md"`)
	w.Write([]byte(chatMarkdown(c, ms)))
	return nil
}

// chatMarkdown writes the chat's current branch as Markdown.
func chatMarkdown(c Chat, ms []Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", c.Title)
	if c.System != "" {
		fmt.Fprintf(&b, "### System\n\n%s\n\n", c.System)
	}
	if c.CurrentID != nil {
		for _, m := range branch(ms, *c.CurrentID) {
			switch {
			case m.Role == "user":
				b.WriteString("### User\n\n")
			case m.Model != "":
				fmt.Fprintf(&b, "### Assistant (%s)\n\n", m.Model)
			default:
				b.WriteString("### Assistant\n\n")
			}
			b.WriteString(strings.TrimRight(m.Content, "\n"))
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// saveMessage writes a message's final state.
func (h *Handler) saveMessage(ctx context.Context, m Message) error {
	usage := ""
	if m.Usage != nil {
		usage = string(m.Usage)
	}
	_, err := h.db.Exec(ctx, `UPDATE messages SET content = ?, done = ?, stopped = ?, error = ?, usage = ? WHERE id = ?`,
		m.Content, m.Done, m.Stopped, m.Error, usage, m.ID)
	return err
}

func insertMessage(ctx context.Context, tx *db.Tx, chatID string, m Message) error {
	usage := ""
	if m.Usage != nil {
		usage = string(m.Usage)
	}
	_, err := tx.Exec(ctx, `INSERT INTO messages (id, chat_id, parent_id, seq, role, content, model, connection_id,
		created_at, done, stopped, error, usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, chatID, m.ParentID, m.seq, m.Role, m.Content, m.Model, m.ConnectionID, m.CreatedAt, m.Done, m.Stopped,
		m.Error, usage)
	return err
}
