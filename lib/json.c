/* see lib/json.h; the jsmn implementation is compiled here only. */
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

int json_parse(struct json *j, const char *text, size_t len, jsmntok_t *tokens, int max_tokens)
{
	jsmn_parser p;
	int r;

	j->text = text;
	j->len = len;
	j->tokens = tokens;
	j->max_tokens = max_tokens;
	j->count = 0;
	jsmn_init(&p);
	r = jsmn_parse(&p, text, len, tokens, (unsigned)max_tokens);
	if (r == JSMN_ERROR_NOMEM)
		return JSON_ERROR_NOMEM;
	if (r == JSMN_ERROR_PART)
		return JSON_ERROR_PARTIAL;
	if (r < 0)
		return JSON_ERROR_INVALID;
	if (r == 0)
		return JSON_ERROR_PARTIAL;
	/* jsmn accepts several top-level values; a document is one value. */
	if (json_skip(j, 0) != r)
		return JSON_ERROR_INVALID;
	j->count = r;
	return r;
}

const char *json_strerror(int err)
{
	switch (err) {
	case JSON_ERROR_NOMEM: return "too many JSON tokens";
	case JSON_ERROR_INVALID: return "invalid JSON";
	case JSON_ERROR_PARTIAL: return "truncated JSON";
	}
	return "JSON error";
}

int json_skip(const struct json *j, int i)
{
	int pending = 1;

	/* Walk forward counting children still to visit: an object token has
	 * size = number of keys, each key token has size 1 (its value). */
	while (pending > 0) {
		if (i >= j->max_tokens || (j->count && i >= j->count))
			return i;
		pending += j->tokens[i].size - 1;
		i++;
	}
	return i;
}

int json_type(const struct json *j, int i)
{
	return (i >= 0 && i < j->count) ? (int)j->tokens[i].type : JSMN_UNDEFINED;
}

int json_eq(const struct json *j, int i, const char *s)
{
	size_t n = strlen(s);
	const jsmntok_t *t;

	if (i < 0 || i >= j->count)
		return 0;
	t = &j->tokens[i];
	if (t->type != JSMN_STRING && t->type != JSMN_PRIMITIVE)
		return 0;
	return (size_t)(t->end - t->start) == n && !memcmp(j->text + t->start, s, n);
}

int json_get(const struct json *j, int obj, const char *key)
{
	int i, n;

	if (json_type(j, obj) != JSMN_OBJECT)
		return -1;
	n = j->tokens[obj].size;
	i = obj + 1;
	for (int k = 0; k < n && i < j->count; k++) {
		if (j->tokens[i].type == JSMN_STRING && json_eq(j, i, key))
			return i + 1 < j->count ? i + 1 : -1;
		i = json_skip(j, i + 1);
	}
	return -1;
}

int json_index(const struct json *j, int arr, int n)
{
	int i;

	if (json_type(j, arr) != JSMN_ARRAY || n < 0 || n >= j->tokens[arr].size)
		return -1;
	i = arr + 1;
	for (int k = 0; k < n && i < j->count; k++)
		i = json_skip(j, i);
	return i < j->count ? i : -1;
}

int json_is_null(const struct json *j, int i)
{
	return json_type(j, i) == JSMN_PRIMITIVE && json_eq(j, i, "null");
}

static int read_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit_value(p[k]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

int json_string(const struct json *j, int i, char *out, size_t size)
{
	const char *p, *end;
	size_t n = 0;

	if (json_type(j, i) != JSMN_STRING || size == 0)
		return -1;
	p = j->text + j->tokens[i].start;
	end = j->text + j->tokens[i].end;
	while (p < end) {
		unsigned cp;
		char buf[4];
		size_t blen;

		if (*p != '\\') {
			if (n + 1 >= size)
				return -1;
			out[n++] = *p++;
			continue;
		}
		if (++p >= end)
			return -1;
		switch (*p++) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (read_hex4(p, end, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned low;

				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || read_hex4(p + 2, end, &low) < 0 ||
				    low < 0xdc00 || low > 0xdfff)
					return -1;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return -1;
			}
			break;
		default:
			return -1;
		}
		blen = utf8_encode(cp, buf);
		if (n + blen >= size)
			return -1;
		memcpy(out + n, buf, blen);
		n += blen;
	}
	out[n] = 0;
	return (int)n;
}

int json_int(const struct json *j, int i, int64_t *out, int allow_string)
{
	const jsmntok_t *t;
	const char *p, *end;
	int neg = 0;
	uint64_t v = 0;

	if (i < 0 || i >= j->count)
		return -1;
	t = &j->tokens[i];
	if (t->type != JSMN_PRIMITIVE && !(allow_string && t->type == JSMN_STRING))
		return -1;
	p = j->text + t->start;
	end = j->text + t->end;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_C(1) << 62))
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int json_bool(const struct json *j, int i)
{
	if (json_type(j, i) != JSMN_PRIMITIVE)
		return -1;
	if (json_eq(j, i, "true"))
		return 1;
	if (json_eq(j, i, "false"))
		return 0;
	return -1;
}

int json_quote(char *out, size_t size, const char *s)
{
	size_t n = 0;

	if (size < 3)
		return -1;
	out[n++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t elen;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			elen = 6;
		} else {
			esc[0] = (char)c;
			elen = 1;
		}
		if (n + elen + 2 > size)
			return -1;
		memcpy(out + n, esc, elen);
		n += elen;
	}
	out[n++] = '"';
	out[n] = 0;
	return (int)n;
}
