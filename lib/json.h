/* JSON access on top of jsmn's tokenizer (strict mode).
 *
 * The caller owns the token array, so memory is bounded by its size; a
 * document that needs more tokens fails with JSON_ERROR_NOMEM instead of
 * allocating.  Token indexes are ints as in jsmn; -1 means "not found". */
#ifndef RDAGENT_JSON_H
#define RDAGENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSMN_STRICT
#ifndef JSMN_H
#define JSMN_HEADER
#endif
#include <jsmn.h>

struct json {
	const char *text;
	size_t len;
	jsmntok_t *tokens;
	int max_tokens;
	int count;          /* tokens used after json_parse */
};

enum {
	JSON_ERROR_NOMEM = -1,   /* more tokens than max_tokens */
	JSON_ERROR_INVALID = -2, /* not valid JSON */
	JSON_ERROR_PARTIAL = -3, /* truncated document */
};

/* Tokenizes text; returns the token count or a JSON_ERROR_ value. */
int json_parse(struct json *j, const char *text, size_t len, jsmntok_t *tokens, int max_tokens);
const char *json_strerror(int err);

/* Index of the token after i and all of its children. */
int json_skip(const struct json *j, int i);
/* Value token of key in object obj, or -1. */
int json_get(const struct json *j, int obj, const char *key);
/* Element n of array arr, or -1. */
int json_index(const struct json *j, int arr, int n);
/* 1 if token i is a string (or primitive) equal to s. */
int json_eq(const struct json *j, int i, const char *s);
int json_is_null(const struct json *j, int i);
int json_type(const struct json *j, int i);
/* Copies the unescaped string at i into out (NUL-terminated, UTF-8).
 * Returns its length, or -1 when i is not a string, an escape is invalid,
 * or it does not fit (truncation is an error, never silent). */
int json_string(const struct json *j, int i, char *out, size_t size);
/* Parses an integer primitive, or a string holding one when allow_string. */
int json_int(const struct json *j, int i, int64_t *out, int allow_string);
/* 1 for true, 0 for false, -1 otherwise. */
int json_bool(const struct json *j, int i);

/* Writes s as a JSON string literal with quotes into out.  Returns the
 * length, or -1 when it does not fit. */
int json_quote(char *out, size_t size, const char *s);

#endif
