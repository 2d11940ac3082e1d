/* see lib/kubeconfig.h
 *
 * Both syntaxes become one tree of nodes first; the kubeconfig fields are
 * then read from the tree, so YAML and JSON files share every check.  The
 * kubeconfig schema is client-go's clientcmd/api/v1 types (Config,
 * NamedCluster, Cluster, NamedAuthInfo, AuthInfo). */
#include "kubeconfig.h"
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "pem.h"

enum node_type { NODE_NULL, NODE_SCALAR, NODE_MAP, NODE_SEQ };

struct node {
	enum node_type type;
	unsigned line;
	char *key;                /* key of this entry when the parent is a mapping */
	char *value;              /* NODE_SCALAR text, NUL-terminated */
	struct node *child, *last, *next;
};

struct line {
	unsigned no;
	int indent;
	const char *s;
	size_t len;
};

struct parser {
	struct line *lines;
	size_t nlines, cur;
	unsigned nodes;
	unsigned depth;
	struct node *root;
	struct kubeconfig_error *err;
};

static int fail(struct parser *p, unsigned line, const char *key, size_t key_len,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct parser *p, unsigned line, const char *key, size_t key_len,
		const char *fmt, ...)
{
	va_list ap;
	struct kubeconfig_error *e = p->err;

	e->line = line;
	e->key[0] = '\0';
	if (key) {
		if (key_len >= sizeof(e->key))
			key_len = sizeof(e->key) - 1;
		for (size_t i = 0; i < key_len; i++)
			e->key[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
		e->key[key_len] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct node *node_new(struct parser *p, enum node_type type, unsigned line)
{
	struct node *n;

	if (p->nodes >= KUBECONFIG_NODES_MAX)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	p->nodes++;
	n->type = type;
	n->line = line;
	return n;
}

static void node_free(struct node *n)
{
	while (n) {
		struct node *next = n->next;

		node_free(n->child);
		free(n->key);
		free(n->value);
		free(n);
		n = next;
	}
}

static void node_append(struct node *parent, struct node *child)
{
	if (parent->last)
		parent->last->next = child;
	else
		parent->child = child;
	parent->last = child;
}

static char *dup_range(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* ---- YAML subset ---- */

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Cuts a '#' comment: '#' at the start or after a blank, outside quotes.
 * A quote opens a quoted part only at the start or after a blank, so an
 * apostrophe inside a plain scalar ("it's") stays text. */
static size_t strip_comment(const char *s, size_t len)
{
	char quote = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (quote) {
			if (quote == '"' && c == '\\')
				i++;
			else if (quote == '\'' && c == '\'' && i + 1 < len && s[i + 1] == '\'')
				i++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if ((c == '"' || c == '\'') && (i == 0 || is_blank(s[i - 1]) ||
						s[i - 1] == ':' || s[i - 1] == '-'))
			quote = c;
		else if (c == '#' && (i == 0 || is_blank(s[i - 1])))
			return i;
	}
	return len;
}

static int split_lines(struct parser *p, const char *text, size_t len)
{
	size_t pos = 0, cap = 0;
	unsigned no = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *s = text + pos;
		size_t n = end - pos;
		int indent = 0;

		no++;
		pos = end + 1;
		while ((size_t)indent < n && s[indent] == ' ')
			indent++;
		s += indent;
		n -= (size_t)indent;
		n = strip_comment(s, n);
		while (n && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		if (s[0] == '\t')
			return fail(p, no, NULL, 0, "tab in indentation; YAML indents with spaces only");
		if (s[0] == '%')
			return fail(p, no, NULL, 0, "YAML directives are not supported");
		if (n == 3 && !memcmp(s, "---", 3) && indent == 0) {
			if (p->nlines)
				return fail(p, no, NULL, 0, "a second YAML document is not supported");
			continue;
		}
		if (n == 3 && !memcmp(s, "...", 3) && indent == 0)
			break;
		if (p->nlines == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct line *l = realloc(p->lines, ncap * sizeof(*l));

			if (!l)
				return -ENOMEM;
			p->lines = l;
			cap = ncap;
		}
		p->lines[p->nlines++] = (struct line){ no, indent, s, n };
	}
	return 0;
}

/* Decodes a double-quoted scalar body (YAML 1.2 §5.7 escapes, the subset
 * that JSON also has, plus \0, \a, \e, \x). */
static char *unquote_double(const char *s, size_t len)
{
	char *out = malloc(len * 2 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned long cp;
		size_t n;
		int digits;

		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (++i >= len)
			goto bad;
		switch (s[i]) {
		case 'n': *o++ = '\n'; continue;
		case 't': *o++ = '\t'; continue;
		case 'r': *o++ = '\r'; continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'a': *o++ = '\a'; continue;
		case 'e': *o++ = 0x1b; continue;
		case '0': *o++ = '\0'; continue;
		case '"': case '\\': case '/': case ' ': *o++ = s[i]; continue;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default: goto bad;
		}
		cp = 0;
		for (int k = 0; k < digits; k++) {
			char c = ++i < len ? s[i] : 0;
			int v = hex_digit_value(c);

			if (v < 0)
				goto bad;
			cp = cp * 16 + (unsigned long)v;
		}
		n = utf8_encode(cp, o);
		if (!n)
			goto bad;
		o += n;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	errno = EINVAL;
	return NULL;
}

static char *unquote_single(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'') {
			if (i + 1 >= len || s[i + 1] != '\'') {
				free(out);
				errno = EINVAL;
				return NULL;
			}
			i++;
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Length of a quoted scalar starting at s[0] (the quote), including both
 * quotes, or 0 when it does not close on this line. */
static size_t quoted_length(const char *s, size_t len)
{
	char q = s[0];

	for (size_t i = 1; i < len; i++) {
		if (q == '"' && s[i] == '\\') {
			i++;
		} else if (s[i] == q) {
			if (q == '\'' && i + 1 < len && s[i + 1] == '\'') {
				i++;
				continue;
			}
			return i + 1;
		}
	}
	return 0;
}

/* Builds the node for an inline value (text after "key: " or "- "). */
static int parse_inline(struct parser *p, const struct line *l, const char *s, size_t len,
			const char *key, size_t key_len, struct node **out)
{
	struct node *n;
	enum node_type type = NODE_SCALAR;
	char *value = NULL;

	switch (s[0]) {
	case '&':
		return fail(p, l->no, key, key_len, "YAML anchors are not supported");
	case '*':
		return fail(p, l->no, key, key_len, "YAML aliases are not supported");
	case '!':
		return fail(p, l->no, key, key_len, "YAML tags are not supported");
	case '|': case '>':
		return fail(p, l->no, key, key_len, "YAML block scalars are not supported");
	case '@': case '`':
		return fail(p, l->no, key, key_len, "'%c' cannot start a YAML scalar", s[0]);
	case '{':
		if (len != 2 || s[1] != '}')
			return fail(p, l->no, key, key_len, "YAML flow mappings other than {} are not supported");
		type = NODE_MAP;
		break;
	case '[':
		if (len != 2 || s[1] != ']')
			return fail(p, l->no, key, key_len, "YAML flow sequences other than [] are not supported");
		type = NODE_SEQ;
		break;
	case '"': case '\'':
		if (quoted_length(s, len) != len)
			return fail(p, l->no, key, key_len, "quoted scalar does not end at the end of the line");
		errno = 0;
		value = s[0] == '"' ? unquote_double(s + 1, len - 2) : unquote_single(s + 1, len - 2);
		if (!value)
			return errno == EINVAL ? fail(p, l->no, key, key_len, "invalid escape in quoted scalar")
					       : -ENOMEM;
		break;
	default:
		if ((len == 1 && s[0] == '~') || (len == 4 && !memcmp(s, "null", 4)))
			type = NODE_NULL;
		else if (!(value = dup_range(s, len)))
			return -ENOMEM;
	}
	n = node_new(p, type, l->no);
	if (!n) {
		free(value);
		return p->nodes >= KUBECONFIG_NODES_MAX
			? fail(p, l->no, key, key_len, "more than %u YAML nodes", KUBECONFIG_NODES_MAX)
			: -ENOMEM;
	}
	n->value = value;
	*out = n;
	return 0;
}

/* Joins continuation lines (indented deeper than parent_indent) of a
 * multi-line plain scalar, folding each line break into a space. */
static int fold_plain(struct parser *p, struct node *n, int parent_indent)
{
	while (p->cur < p->nlines && p->lines[p->cur].indent > parent_indent) {
		const struct line *c = &p->lines[p->cur];
		size_t old = strlen(n->value);
		char *v = realloc(n->value, old + 1 + c->len + 1);

		if (!v)
			return -ENOMEM;
		v[old] = ' ';
		memcpy(v + old + 1, c->s, c->len);
		v[old + 1 + c->len] = '\0';
		n->value = v;
		p->cur++;
	}
	return 0;
}

static int parse_block(struct parser *p, int indent, struct node **out);

static int is_seq_entry(const struct line *l)
{
	return l->s[0] == '-' && (l->len == 1 || l->s[1] == ' ');
}

/* Parses the value that follows "key:" (or "-") with nothing after it on
 * the line: a deeper block, a sequence at the same indentation (only after
 * a mapping key), or null. */
static int parse_nested(struct parser *p, const struct line *l, int indent, int allow_same_seq,
			const char *key, size_t key_len, struct node **out)
{
	if (p->cur < p->nlines) {
		const struct line *next = &p->lines[p->cur];

		if (next->indent > indent)
			return parse_block(p, next->indent, out);
		if (allow_same_seq && next->indent == indent && is_seq_entry(next))
			return parse_block(p, indent, out);
	}
	*out = node_new(p, NODE_NULL, l->no);
	return *out ? 0 : -ENOMEM;
}

static int parse_sequence(struct parser *p, int indent, struct node *seq)
{
	while (p->cur < p->nlines) {
		struct line *l = &p->lines[p->cur];
		struct node *item = NULL;
		size_t skip = 1;
		int r;

		if (l->indent < indent)
			break;
		if (l->indent > indent)
			return fail(p, l->no, NULL, 0, "unexpected indentation in a sequence");
		if (!is_seq_entry(l))
			break;
		while (skip < l->len && l->s[skip] == ' ')
			skip++;
		if (skip == l->len) {
			p->cur++;
			r = parse_nested(p, l, indent, 0, NULL, 0, &item);
		} else {
			/* "- key: value" opens a mapping whose column is that
			 * of "key": reparse the rest of the line as a line of
			 * its own with that indentation. */
			l->indent += (int)skip;
			l->s += skip;
			l->len -= skip;
			r = parse_block(p, l->indent, &item);
		}
		if (r) {
			node_free(item);
			return r;
		}
		node_append(seq, item);
	}
	return 0;
}

/* Finds the ':' that ends a plain key: followed by a blank or the end. */
static size_t find_colon(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':' && (i + 1 == len || s[i + 1] == ' '))
			return i;
	return len;
}

static int parse_mapping(struct parser *p, int indent, struct node *map)
{
	while (p->cur < p->nlines) {
		const struct line *l = &p->lines[p->cur];
		const char *s = l->s, *key, *rest;
		size_t len = l->len, key_len, colon, rest_len;
		char *key_text;
		struct node *value = NULL;
		int r;

		if (l->indent < indent)
			break;
		if (l->indent > indent)
			return fail(p, l->no, NULL, 0, "unexpected indentation in a mapping");
		if (is_seq_entry(l))
			return fail(p, l->no, NULL, 0, "sequence entry where a mapping key was expected");
		if (s[0] == '?')
			return fail(p, l->no, NULL, 0, "YAML complex keys are not supported");
		if (s[0] == '"' || s[0] == '\'') {
			size_t q = quoted_length(s, len);

			if (!q || q >= len || s[q] != ':' || (q + 1 < len && s[q + 1] != ' '))
				return fail(p, l->no, NULL, 0, "expected 'key: value'");
			errno = 0;
			key_text = s[0] == '"' ? unquote_double(s + 1, q - 2) : unquote_single(s + 1, q - 2);
			if (!key_text)
				return errno == EINVAL ? fail(p, l->no, NULL, 0, "invalid quoted key") : -ENOMEM;
			colon = q;
		} else {
			colon = find_colon(s, len);
			if (colon == len)
				return fail(p, l->no, s, len, "expected 'key: value'");
			if (s[0] == '&' || s[0] == '*' || s[0] == '!')
				return fail(p, l->no, s, colon, "YAML anchors, aliases and tags are not supported");
			if (!(key_text = dup_range(s, colon)))
				return -ENOMEM;
		}
		key = key_text;
		key_len = strlen(key_text);
		for (struct node *c = map->child; c; c = c->next) {
			if (!strcmp(c->key, key_text)) {
				r = fail(p, l->no, key, key_len, "duplicate key");
				free(key_text);
				return r;
			}
		}
		rest = s + colon + 1;
		rest_len = len - colon - 1;
		while (rest_len && rest[0] == ' ') {
			rest++;
			rest_len--;
		}
		p->cur++;
		if (rest_len) {
			r = parse_inline(p, l, rest, rest_len, key, key_len, &value);
			if (!r && value->type == NODE_SCALAR && rest[0] != '"' && rest[0] != '\'')
				r = fold_plain(p, value, indent);
		} else {
			r = parse_nested(p, l, indent, 1, key, key_len, &value);
		}
		if (r) {
			node_free(value);
			free(key_text);
			return r;
		}
		/* Errors about a value name the line of its key. */
		value->line = l->no;
		value->key = key_text;
		node_append(map, value);
	}
	return 0;
}

static int parse_block(struct parser *p, int indent, struct node **out)
{
	const struct line *l = &p->lines[p->cur];
	struct node *n;
	int r;

	if (++p->depth > KUBECONFIG_DEPTH_MAX)
		return fail(p, l->no, NULL, 0, "nesting deeper than %d levels", KUBECONFIG_DEPTH_MAX);
	if (is_seq_entry(l)) {
		if (!(n = node_new(p, NODE_SEQ, l->no)))
			return -ENOMEM;
		*out = n;
		r = parse_sequence(p, indent, n);
	} else if (find_colon(l->s, l->len) == l->len && l->s[0] != '"' && l->s[0] != '\'') {
		/* A lone scalar, e.g. "- name" in a sequence. */
		r = parse_inline(p, l, l->s, l->len, NULL, 0, out);
		p->cur++;
	} else {
		if (!(n = node_new(p, NODE_MAP, l->no)))
			return -ENOMEM;
		*out = n;
		r = parse_mapping(p, indent, n);
	}
	p->depth--;
	return r;
}

static int parse_yaml(struct parser *p, const char *text, size_t len)
{
	int r = split_lines(p, text, len);

	if (r)
		return r;
	if (!p->nlines)
		return fail(p, 0, NULL, 0, "the file is empty");
	if (p->lines[0].indent != 0)
		return fail(p, p->lines[0].no, NULL, 0, "the document must start at column 1");
	r = parse_block(p, 0, &p->root);
	if (r)
		return r;
	if (p->cur < p->nlines)
		return fail(p, p->lines[p->cur].no, NULL, 0, "unexpected text after the document");
	return 0;
}

/* ---- JSON ---- */

static unsigned json_line(const char *text, int offset)
{
	unsigned line = 1;

	for (int i = 0; i < offset; i++)
		line += text[i] == '\n';
	return line;
}

static int json_to_node(struct parser *p, const struct json *j, int i, struct node **out)
{
	const jsmntok_t *t = &j->tokens[i];
	unsigned line = json_line(j->text, t->start);
	struct node *n;

	if (p->depth > KUBECONFIG_DEPTH_MAX)
		return fail(p, line, NULL, 0, "nesting deeper than %d levels", KUBECONFIG_DEPTH_MAX);
	if (json_is_null(j, i))
		n = node_new(p, NODE_NULL, line);
	else if (t->type == JSMN_OBJECT)
		n = node_new(p, NODE_MAP, line);
	else if (t->type == JSMN_ARRAY)
		n = node_new(p, NODE_SEQ, line);
	else
		n = node_new(p, NODE_SCALAR, line);
	if (!n)
		return p->nodes >= KUBECONFIG_NODES_MAX
			? fail(p, line, NULL, 0, "more than %u JSON values", KUBECONFIG_NODES_MAX)
			: -ENOMEM;
	*out = n;
	if (n->type == NODE_SCALAR) {
		size_t size = (size_t)(t->end - t->start) + 1;

		if (!(n->value = malloc(size)))
			return -ENOMEM;
		if (t->type == JSMN_STRING) {
			if (json_string(j, i, n->value, size) < 0)
				return fail(p, line, NULL, 0, "invalid JSON string");
		} else {
			memcpy(n->value, j->text + t->start, size - 1);
			n->value[size - 1] = '\0';
		}
		return 0;
	}
	if (n->type != NODE_MAP && n->type != NODE_SEQ)
		return 0;
	p->depth++;
	for (int k = 0, c = i + 1; k < t->size; k++) {
		struct node *child = NULL;
		char *key = NULL;
		int r;

		if (n->type == NODE_MAP) {
			const jsmntok_t *kt = &j->tokens[c];
			size_t size = (size_t)(kt->end - kt->start) + 1;

			if (!(key = malloc(size)))
				return -ENOMEM;
			if (json_string(j, c, key, size) < 0) {
				free(key);
				return fail(p, json_line(j->text, kt->start), NULL, 0, "invalid JSON key");
			}
			for (struct node *o = n->child; o; o = o->next) {
				if (!strcmp(o->key, key)) {
					r = fail(p, json_line(j->text, kt->start), key, strlen(key), "duplicate key");
					free(key);
					return r;
				}
			}
			c++;
		}
		r = json_to_node(p, j, c, &child);
		if (child) {
			child->key = key;
			node_append(n, child);
		} else {
			free(key);
		}
		if (r)
			return r;
		c = json_skip(j, c);
	}
	p->depth--;
	return 0;
}

static int parse_json(struct parser *p, const char *text, size_t len)
{
	struct json j;
	jsmntok_t *tokens;
	int max = 256, r;

	/* Grow the token array until the document fits; the node limit caps
	 * what a hostile file can make us allocate. */
	for (;;) {
		if (!(tokens = malloc((size_t)max * sizeof(*tokens))))
			return -ENOMEM;
		r = json_parse(&j, text, len, tokens, max);
		if (r != JSON_ERROR_NOMEM || max >= KUBECONFIG_NODES_MAX * 2)
			break;
		free(tokens);
		max *= 4;
	}
	if (r < 0) {
		free(tokens);
		return fail(p, 0, NULL, 0, "%s", json_strerror(r));
	}
	r = json_to_node(p, &j, 0, &p->root);
	free(tokens);
	return r;
}

/* ---- kubeconfig schema ---- */

static const struct node *map_get(const struct node *map, const char *key)
{
	if (!map || map->type != NODE_MAP)
		return NULL;
	for (const struct node *c = map->child; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

/* Reads an optional string field: *out is NULL when absent or null. */
static int get_string(struct parser *p, const struct node *map, const char *key, const char **out)
{
	const struct node *n = map_get(map, key);

	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_SCALAR)
		return fail(p, n->line, key, strlen(key), "expected a string");
	*out = n->value;
	return 0;
}

static int get_bool(struct parser *p, const struct node *map, const char *key, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	const char *v;
	int r = get_string(p, map, key, &v);

	*out = 0;
	if (r || !v)
		return r;
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return fail(p, map_get(map, key)->line, key, strlen(key), "expected true or false, not '%.40s'", v);
}

/* Finds the entry named name in the list under list_key ("clusters"...)
 * and returns its inner mapping under inner_key ("cluster"...). */
static int find_named(struct parser *p, const struct node *root, const char *list_key,
		      const char *inner_key, const char *name, const struct node **out)
{
	const struct node *list = map_get(root, list_key);

	*out = NULL;
	if (list && list->type != NODE_SEQ && list->type != NODE_NULL)
		return fail(p, list->line, list_key, strlen(list_key), "expected a sequence");
	for (const struct node *e = list ? list->child : NULL; e; e = e->next) {
		const char *n;
		int r;

		if (e->type != NODE_MAP)
			return fail(p, e->line, list_key, strlen(list_key), "expected a mapping with name and %s", inner_key);
		if ((r = get_string(p, e, "name", &n)))
			return r;
		if (n && !strcmp(n, name)) {
			const struct node *inner = map_get(e, inner_key);

			if (!inner || (inner->type != NODE_MAP && inner->type != NODE_NULL))
				return fail(p, e->line, inner_key, strlen(inner_key),
					    "%s '%.60s' has no %s mapping", inner_key, name, inner_key);
			*out = inner;
			return 0;
		}
	}
	return fail(p, list ? list->line : 0, list_key, strlen(list_key), "%s '%.60s' not found", inner_key, name);
}

/* Rejects fields of the selected cluster or user that this reader cannot
 * honour, so that such a config fails with a message instead of
 * connecting without the credentials it asks for. */
struct field_rule {
	const char *key;
	const char *reason;       /* NULL: supported or safe to ignore */
};

static const struct field_rule cluster_fields[] = {
	{ "server", NULL }, { "certificate-authority", NULL },
	{ "certificate-authority-data", NULL }, { "insecure-skip-tls-verify", NULL },
	{ "tls-server-name", NULL }, { "extensions", NULL }, { "disable-compression", NULL },
	{ "proxy-url", "HTTP and SOCKS proxies are not supported" },
};

static const struct field_rule user_fields[] = {
	{ "client-certificate", NULL }, { "client-certificate-data", NULL },
	{ "client-key", NULL }, { "client-key-data", NULL },
	{ "token", NULL }, { "tokenFile", NULL }, { "extensions", NULL },
	{ "exec", "exec credential plugins are not supported" },
	{ "auth-provider", "auth provider plugins are not supported" },
	{ "username", "basic authentication is not supported" },
	{ "password", "basic authentication is not supported" },
	{ "as", "impersonation is not supported" },
	{ "as-uid", "impersonation is not supported" },
	{ "as-groups", "impersonation is not supported" },
	{ "as-user-extra", "impersonation is not supported" },
};

static int check_fields(struct parser *p, const struct node *map, const struct field_rule *rules,
			size_t nrules, const char *what)
{
	for (const struct node *c = map ? map->child : NULL; c; c = c->next) {
		size_t i;

		for (i = 0; i < nrules; i++)
			if (!strcmp(c->key, rules[i].key))
				break;
		if (i == nrules)
			return fail(p, c->line, c->key, strlen(c->key), "unknown %s field", what);
		if (rules[i].reason)
			return fail(p, c->line, c->key, strlen(c->key), "%s", rules[i].reason);
	}
	return 0;
}

static int set_string(const char *v, char **out)
{
	if (!v)
		return 0;
	return (*out = strdup(v)) ? 0 : -ENOMEM;
}

static int set_path(const char *v, const char *dir, char **out)
{
	size_t n;

	if (!v || !*v)
		return 0;
	if (v[0] == '/' || !dir)
		return set_string(v, out);
	n = strlen(dir) + 1 + strlen(v) + 1;
	if (!(*out = malloc(n)))
		return -ENOMEM;
	snprintf(*out, n, "%s/%s", dir, v);
	return 0;
}

static int set_data(struct parser *p, const struct node *map, const char *key,
		    uint8_t **out, size_t *out_len)
{
	const char *v;
	size_t size;
	long n;
	int r = get_string(p, map, key, &v);

	if (r || !v || !*v)
		return r;
	size = base64_decoded_max(strlen(v));
	if (!(*out = malloc(size + 1)))
		return -ENOMEM;
	n = base64_decode(v, strlen(v), *out, size);
	if (n < 0)
		return fail(p, map_get(map, key)->line, key, strlen(key), "invalid base64");
	(*out)[n] = '\0';
	*out_len = (size_t)n;
	return 0;
}

static int read_config(struct parser *p, const char *dir, struct kubeconfig *kc)
{
	const struct node *root = p->root, *ctx, *cluster, *user = NULL;
	const char *current, *cluster_name, *user_name, *s;
	int r;

	if (root->type != NODE_MAP)
		return fail(p, root->line, NULL, 0, "the document is not a mapping");
	if ((r = get_string(p, root, "current-context", &current)))
		return r;
	if (!current || !*current)
		return fail(p, 0, "current-context", 15, "current-context is not set");
	if ((r = find_named(p, root, "contexts", "context", current, &ctx)))
		return r;
	if ((r = get_string(p, ctx, "cluster", &cluster_name)) ||
	    (r = get_string(p, ctx, "user", &user_name)))
		return r;
	if (!cluster_name || !*cluster_name)
		return fail(p, ctx->line, "cluster", 7, "context '%.60s' names no cluster", current);
	if ((r = find_named(p, root, "clusters", "cluster", cluster_name, &cluster)))
		return r;
	if (user_name && *user_name &&
	    (r = find_named(p, root, "users", "user", user_name, &user)))
		return r;
	if ((r = check_fields(p, cluster, cluster_fields,
			      sizeof(cluster_fields) / sizeof(cluster_fields[0]), "cluster")) ||
	    (r = check_fields(p, user, user_fields,
			      sizeof(user_fields) / sizeof(user_fields[0]), "user")))
		return r;

	if ((r = set_string(current, &kc->context)) ||
	    (r = set_string(cluster_name, &kc->cluster)) ||
	    (r = set_string(user_name && *user_name ? user_name : NULL, &kc->user)))
		return r;
	if ((r = get_string(p, cluster, "server", &s)))
		return r;
	if (!s || !*s)
		return fail(p, cluster ? cluster->line : 0, "server", 6,
			    "cluster '%.60s' has no server", cluster_name);
	if ((r = set_string(s, &kc->server)))
		return r;
	if ((r = get_string(p, cluster, "tls-server-name", &s)) ||
	    (r = set_string(s && *s ? s : NULL, &kc->tls_server_name)) ||
	    (r = get_bool(p, cluster, "insecure-skip-tls-verify", &kc->insecure)) ||
	    (r = set_data(p, cluster, "certificate-authority-data", &kc->ca_pem, &kc->ca_pem_len)) ||
	    (r = get_string(p, cluster, "certificate-authority", &s)) ||
	    (!kc->ca_pem && (r = set_path(s, dir, &kc->ca_file))))
		return r;
	if (!user)
		return 0;
	if ((r = set_data(p, user, "client-certificate-data", &kc->cert_pem, &kc->cert_pem_len)) ||
	    (r = get_string(p, user, "client-certificate", &s)) ||
	    (!kc->cert_pem && (r = set_path(s, dir, &kc->cert_file))) ||
	    (r = set_data(p, user, "client-key-data", &kc->key_pem, &kc->key_pem_len)) ||
	    (r = get_string(p, user, "client-key", &s)) ||
	    (!kc->key_pem && (r = set_path(s, dir, &kc->key_file))) ||
	    (r = get_string(p, user, "token", &s)) ||
	    (r = set_string(s && *s ? s : NULL, &kc->token)) ||
	    (r = get_string(p, user, "tokenFile", &s)) ||
	    (!kc->token && (r = set_path(s, dir, &kc->token_file))))
		return r;
	if ((kc->cert_pem || kc->cert_file) != (kc->key_pem || kc->key_file))
		return fail(p, user->line, NULL, 0, "user '%.60s' has a client certificate without a key, or a key without a certificate",
			    user_name);
	return 0;
}

/* see lib/kubeconfig.h */
int kubeconfig_parse(const char *text, size_t len, const char *dir,
		     struct kubeconfig *kc, struct kubeconfig_error *err)
{
	struct parser p = { .err = err };
	size_t i = 0;
	int r;

	memset(kc, 0, sizeof(*kc));
	memset(err, 0, sizeof(*err));
	if (len > KUBECONFIG_SIZE_MAX)
		return fail(&p, 0, NULL, 0, "the file is larger than %u bytes", KUBECONFIG_SIZE_MAX);
	if (memchr(text, '\0', len))
		return fail(&p, 0, NULL, 0, "the file contains a NUL byte");
	/* Skip a UTF-8 byte order mark and leading whitespace to tell JSON
	 * (which YAML 1.2 also accepts) from block YAML. */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i < len && text[i] == '{')
		r = parse_json(&p, text, len);
	else
		r = parse_yaml(&p, text, len);
	if (!r)
		r = read_config(&p, dir, kc);
	node_free(p.root);
	free(p.lines);
	if (r)
		kubeconfig_free(kc);
	return r;
}

/* see lib/kubeconfig.h */
void kubeconfig_free(struct kubeconfig *kc)
{
	free(kc->context);
	free(kc->cluster);
	free(kc->user);
	free(kc->server);
	free(kc->tls_server_name);
	free(kc->ca_pem);
	free(kc->cert_pem);
	free(kc->key_pem);
	free(kc->ca_file);
	free(kc->cert_file);
	free(kc->key_file);
	free(kc->token);
	free(kc->token_file);
	memset(kc, 0, sizeof(*kc));
}

/* see lib/kubeconfig.h */
char *kubeconfig_strerror(const struct kubeconfig_error *err, char *buf, size_t size)
{
	char where[96] = "";

	if (err->line && err->key[0])
		snprintf(where, sizeof(where), "line %u: key '%s': ", err->line, err->key);
	else if (err->line)
		snprintf(where, sizeof(where), "line %u: ", err->line);
	else if (err->key[0])
		snprintf(where, sizeof(where), "key '%s': ", err->key);
	snprintf(buf, size, "%s%s", where, err->message);
	return buf;
}
