// Package pipelines runs user-written filters and pipes in a sandbox and
// serves them over Open WebUI's Pipelines protocol, so that Golem's web UI
// (or Open WebUI itself) can use them like the Python Pipelines server on
// port 9099.
//
// # Pipelines
//
// A pipeline is one Starlark file (a small, deterministic Python dialect,
// see https://github.com/bazelbuild/starlark) named <id>.star. It starts
// with a docstring header of "key: value" lines:
//
//	"""
//	name: Rate limit
//	kind: filter
//	description: Limits how many requests each user may send.
//	priority: 0
//	"""
//
// kind is filter, pipe or manifold. Filters may also give priority (lower
// runs first) and pipelines (the models they apply to, comma-separated,
// "*" for all); both become valves the admin can edit.
//
// Settings ("valves") are declared once at top level:
//
//	valves = Valves(
//	    requests_per_minute = valve(int, 10, "Requests per user per minute; 0 for no limit"),
//	    mode = valve(str, "mask", "What to do with a match", choices = ["mask", "block"]),
//	)
//
// valve(type, default, description, choices=None, title=None) takes int,
// float, bool, str or list (a list of strings). The script reads current
// values as valves.requests_per_minute; admins change them through the
// protocol and they persist in <id>.valves.json.
//
// The functions a pipeline may define:
//
//	inlet(body, user)   filter: returns the (changed) request body, or None to keep it
//	outlet(body, user)  filter: the same for the conversation after the answer
//	pipe(body, user)    pipe or manifold: returns the answer as a string, a list
//	                    of chunks, a response dict, or a stream from models.stream;
//	                    emit(text) sends a chunk at once when the client streams
//	pipelines()         manifold: the list of {"id": ..., "name": ...} models it
//	                    serves; pipe() then sees body["model"] without the prefix
//	on_valves_updated() called after an admin changes the valves
//
// fail("message") in inlet or outlet blocks the request; the client gets the
// message. Any other error in a script is reported with its file and line.
//
// # Sandbox
//
// Scripts cannot reach the file system, the environment or the network
// except through the builtins below. Each call has a step budget (an endless
// loop stops), a wall-clock limit, and a memory budget: operators and
// builtins that build strings, lists and integers check the size of what
// they are about to build (so "x" * 10**9 fails before allocating) and count
// what the call allocated. A call that overruns gets a clear error and the
// server goes on; a call stuck inside one builtin past its time limit is
// abandoned and its pipeline disabled until the next reload.
//
// Builtins besides Starlark's own:
//
//	http.get(url, headers=None, params=None, timeout=None)
//	http.post(url, json=None, body=None, headers=None, timeout=None)
//	    only to hosts on the admin's allow-list; returns a response with
//	    .status, .headers, .text and .json()
//	models.chat(model=, messages=, body=, url=None, api_key=None)  -> answer text
//	models.complete(...)  -> the whole chat.completion response
//	models.stream(...)    -> an iterator of text chunks
//	models.list(url=None, api_key=None) -> the models of an OpenAI-compatible API
//	    (Golem's own API by default; another url must be on the allow-list)
//	state.get(key, default=None), state.set(key, value), state.delete(key),
//	state.update(key, fn, default=None)  per-pipeline memory between calls
//	re.search, re.findall, re.sub, re.split, re.escape  (RE2 syntax)
//	json.encode, json.decode, time.time(), log(...), print(...), emit(text)
package pipelines
